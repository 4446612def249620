"""Collections and share links: the rules, apart from the views.

The one path from a token to a link is `find_link`: hash the token, fetch by hash (one indexed
query), then check revocation and expiry. Unknown, tampered, revoked and expired tokens all end
in the same `None`, after the same work, so the views can answer them identically.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext

from accounts.models import Membership, Team
from accounts.tokens import new_token, token_hash
from studio.compare import services as compare
from studio.compare.models import Comparison
from studio.models import Image
from studio.sharing.models import Collection, CollectionItem, ShareLink
from studio.web.gallery import GalleryFilters

Kind = ShareLink.Kind
Audience = ShareLink.Audience


# --- Collections ---------------------------------------------------------------------------------


def owner_images(user: User) -> QuerySet[Image]:
    """The images `user` may put in a collection or share: their own, not deleted."""
    return Image.objects.visible().filter(owner=user)


def collections_of(user: User) -> QuerySet[Collection]:
    visible = Q(items__image__deleted_at__isnull=True)
    return Collection.objects.filter(owner=user).annotate(size=Count("items", filter=visible))


def collection_choices(user: User) -> QuerySet[Collection]:
    """The user's collections by name, for a form's choice: without collections_of's count of
    each one's images, which joins and groups every item (a third of the gallery's bulk form)."""
    return Collection.objects.filter(owner=user).only("owner", "name").order_by("name", "pk")


def collection_items(collection: Collection) -> QuerySet[CollectionItem]:
    return collection.items.filter(image__deleted_at__isnull=True).select_related(
        "image__generation"
    )


def add_images(collection: Collection, images: QuerySet[Image]) -> int:
    """Appends the owner's `images` that are not in the collection yet; returns how many.

    Raises Collection.DoesNotExist if the collection was deleted since the caller fetched it."""
    images = images.filter(owner_id=collection.owner_id)
    with transaction.atomic():
        # Fetched again and locked, as in create_link: deleted meanwhile, it is a DoesNotExist.
        Collection.objects.select_for_update().get(pk=collection.pk)
        present = set(collection.items.values_list("image_id", flat=True))
        last = collection.items.aggregate(last=Max("position"))["last"]
        position = -1 if last is None else last
        new = []
        for image in images.exclude(pk__in=present).order_by("created_at", "pk"):
            position += 1
            new.append(CollectionItem(collection=collection, image=image, position=position))
        CollectionItem.objects.bulk_create(new, ignore_conflicts=True)
        Collection.objects.filter(pk=collection.pk).update(updated_at=timezone.now())
    return len(new)


def remove_images(collection: Collection, images: QuerySet[Image]) -> int:
    """Takes `images` out of the collection (the images themselves stay); returns how many."""
    count, _ = collection.items.filter(image__in=images).delete()
    if count:  # positions may now have gaps: order is all they are for
        Collection.objects.filter(pk=collection.pk).update(updated_at=timezone.now())
    return count


def move_item(item: CollectionItem, direction: str) -> None:
    """Swaps the item with its neighbour before ("up") or after ("down") it."""
    items = CollectionItem.objects.filter(collection_id=item.collection_id)
    with transaction.atomic():
        if direction == "up":
            neighbour = (
                items.filter(position__lte=item.position)
                .exclude(pk=item.pk)
                .order_by("-position", "-pk")
                .first()
            )
        else:
            neighbour = (
                items.filter(position__gte=item.position)
                .exclude(pk=item.pk)
                .order_by("position", "pk")
                .first()
            )
        if neighbour is None:
            return
        if neighbour.position == item.position:
            # Equal positions (never made here, but cheap to survive): renumber first.
            renumber(item.collection_id)
            item.refresh_from_db()
            neighbour.refresh_from_db()
        mine, theirs = item.position, neighbour.position
        CollectionItem.objects.filter(pk=item.pk).update(position=theirs)
        CollectionItem.objects.filter(pk=neighbour.pk).update(position=mine)
        item.position = theirs


def renumber(collection_id: int) -> None:
    items = CollectionItem.objects.filter(collection_id=collection_id).order_by("position", "pk")
    for position, item in enumerate(items):
        if item.position != position:
            CollectionItem.objects.filter(pk=item.pk).update(position=position)


# --- Links ---------------------------------------------------------------------------------------


def create_link(
    owner: User,
    *,
    kind: str,
    audience: str,
    team: Team | None = None,
    collection: Collection | None = None,
    image: Image | None = None,
    filters: dict | None = None,
    include_later: bool = False,
    expires_at: datetime | None = None,
    comparison: Comparison | None = None,
) -> tuple[ShareLink, str]:
    """A new link and its token. The token is never stored: show it to the owner once.

    Raises Collection.DoesNotExist, Image.DoesNotExist or Comparison.DoesNotExist if the target
    was deleted since the caller fetched it, and Membership.DoesNotExist if the owner is not (or
    no longer) in `team`.
    """
    if collection is not None and collection.owner_id != owner.pk:
        raise ValueError("a link can only share its owner's collection")
    if image is not None and image.owner_id != owner.pk:
        raise ValueError("a link can only share its owner's image")
    if comparison is not None and comparison.owner_id != owner.pk:
        raise ValueError("a link can only share its owner's comparison")
    token, hashed = new_token()
    with transaction.atomic():
        # The caller fetched the target and the team maybe a moment before someone deleted
        # them, and a foreign key to a deleted row fails only at commit (an IntegrityError, a
        # 500). Fetched again here, a deleted one is a DoesNotExist; one found is locked until
        # the link is committed (FOR UPDATE on PostgreSQL; on SQLite the IMMEDIATE transaction
        # already holds the write lock).
        if collection is not None:
            Collection.objects.select_for_update().get(pk=collection.pk)
        if image is not None:
            owner_images(owner).select_for_update().get(pk=image.pk)
        if comparison is not None:
            Comparison.objects.select_for_update().get(pk=comparison.pk)
        if team is not None:
            Membership.objects.select_for_update().get(team=team, user=owner)
        link = ShareLink.objects.create(
            owner=owner,
            token_hash=hashed,
            kind=kind,
            collection=collection,
            image=image,
            comparison=comparison,
            filters=filters or {},
            include_later=include_later,
            audience=audience,
            team=team if audience == Audience.TEAM else None,
            expires_at=expires_at,
        )
    return link, token


def live_links(links: QuerySet[ShareLink]) -> QuerySet[ShareLink]:
    return links.filter(revoked_at=None).exclude(expires_at__lte=timezone.now())


def links_of(user: User) -> QuerySet[ShareLink]:
    return ShareLink.objects.filter(owner=user).select_related(
        "team", "collection", "image", "comparison"
    )


def revoke_link(link: ShareLink) -> None:
    now = timezone.now()
    ShareLink.objects.filter(pk=link.pk, revoked_at=None).update(revoked_at=now)
    link.refresh_from_db(fields=["revoked_at"])


def find_link(token: str) -> ShareLink | None:
    """The live link for `token`, or None: the same one query whatever is wrong with it."""
    link = (
        ShareLink.objects.select_related("owner", "team", "collection", "image", "comparison")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if link is None or not link.is_live():
        return None
    return link


def team_may_view(link: ShareLink, user: User | AnonymousUser) -> bool:
    """Whether a signed-in `user` is in the link's audience. A team link also needs its owner
    to be in the team still: leaving (or being removed from) a team ends what one shared there.
    """
    if link.audience == Audience.ANYONE:
        return True
    if not user.is_authenticated:
        return False
    if user.pk == link.owner_id:
        return True
    in_team = Membership.objects.filter(team_id=link.team_id, user_id__in=[user.pk, link.owner_id])
    return in_team.count() == 2


def shared_with(user: User) -> QuerySet[ShareLink]:
    """Live team links that teammates shared with `user`'s teams."""
    now = timezone.now()
    owner_in_team = Membership.objects.filter(
        team_id=OuterRef("team_id"), user_id=OuterRef("owner_id")
    )
    return (
        ShareLink.objects.filter(
            audience=Audience.TEAM, team__memberships__user=user, revoked_at=None
        )
        .exclude(owner=user)
        .exclude(expires_at__lte=now)
        .filter(Exists(owner_in_team))
        .select_related("owner", "team", "collection", "image__generation", "comparison")
        .order_by("-created_at", "-pk")
    )


def shared_comparisons(team: Team) -> QuerySet[Comparison]:
    """Comparisons shared with `team` through live team links whose owners are still in it:
    what the team's scoreboard is made of."""
    owner_in_team = Membership.objects.filter(team_id=team.pk, user_id=OuterRef("owner_id"))
    links = live_links(
        ShareLink.objects.filter(kind=Kind.COMPARISON, audience=Audience.TEAM, team=team)
    ).filter(Exists(owner_in_team))
    return Comparison.objects.filter(pk__in=links.values("comparison_id"))


def link_for_viewer(user: User, pk: int) -> ShareLink | None:
    """A live link that `user` may open without its token: one shared with a team of theirs
    (from "Shared with me"), or their own (a preview)."""
    own = ShareLink.objects.filter(pk=pk, owner=user).first()
    if own is not None:
        return own if own.is_live() else None
    return shared_with(user).filter(pk=pk).first()


def link_title(link: ShareLink) -> str:
    if link.kind == Kind.COLLECTION:
        return link.collection.name
    if link.kind == Kind.IMAGE:
        return gettext("An image")
    if link.kind == Kind.COMPARISON:
        return gettext("A comparison: “%(prompt)s”") % {
            "prompt": Truncator(link.comparison.prompt).chars(60)
        }
    if link.filters.get("q"):
        return gettext("Images: “%(search)s”") % {"search": link.filters["q"]}
    return gettext("Images")


def gallery_filters(owner: User, params) -> GalleryFilters | None:
    """The gallery's own filter form over `params` (a query string's values), if they are valid:
    what a gallery-view link stores is exactly what the gallery would apply."""
    names = GalleryFilters.base_fields.keys()
    data = {name: params[name] for name in names if params.get(name)}
    filters = GalleryFilters(data, owner)
    return filters if filters.is_valid() else None


def describe_filters(filters: dict) -> list[tuple[str, str]]:
    """A gallery view's filters as (label, value) pairs, in the gallery form's words."""
    fields = GalleryFilters.base_fields
    return [(str(fields[name].label), value) for name, value in filters.items() if name in fields]


def link_images(link: ShareLink) -> QuerySet[Image]:
    """What the link shows, in order. Always the owner's images only, whatever the target, and
    never one they deleted."""
    images = owner_images(link.owner).select_related("generation")
    if link.kind == Kind.IMAGE:
        return images.filter(pk=link.image_id)
    if link.kind == Kind.COMPARISON:
        return compare.comparison_images(link.comparison).filter(owner=link.owner)
    if link.kind == Kind.COLLECTION:
        return images.filter(collection_items__collection_id=link.collection_id).order_by(
            "collection_items__position", "collection_items__pk"
        )
    # A gallery view: the gallery's filters, evaluated now, over the owner's images.
    if not link.include_later:
        images = images.filter(created_at__lte=link.created_at)
    return GalleryFilters(link.filters, link.owner).apply(images).order_by("-created_at", "-pk")


def record_view(link: ShareLink) -> None:
    ShareLink.objects.filter(pk=link.pk).update(
        view_count=F("view_count") + 1, last_viewed_at=timezone.now()
    )
