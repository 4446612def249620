"""The owner's side of sharing: collections (/collections/), share links (/links/) and the
"Shared with me" list (/shared/). Shared pages themselves are in studio.sharing.shared.

Every view fetches its object through one helper per resource, by pk and owner: another user's
collection, item or link is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import Membership
from studio.compare import services as compare
from studio.downloads import services as downloads
from studio.sharing import services
from studio.sharing.forms import AddToCollectionForm, CollectionForm, ShareLinkForm
from studio.sharing.models import Collection, CollectionItem, ShareLink
from studio.web.params import get_id, parse_id


def _get_collection_for_user(request: HttpRequest, pk: int) -> Collection:
    return get_object_or_404(Collection, pk=pk, owner=request.user)


def _get_item_for_user(request: HttpRequest, collection: Collection, pk: int) -> CollectionItem:
    return get_object_or_404(CollectionItem, pk=pk, collection=collection)


def _get_link_for_user(request: HttpRequest, pk: int) -> ShareLink:
    return get_object_or_404(ShareLink, pk=pk, owner=request.user)


def _get_images_for_user(request: HttpRequest, ids: list[str]):
    """The viewer's images named by `ids`; any id that is not theirs is a 404."""
    wanted = {parse_id(i) for i in ids}
    if not wanted or None in wanted:
        raise Http404
    images = services.owner_images(request.user).filter(pk__in=wanted)
    if images.count() != len(wanted):
        raise Http404
    return images


def _back(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


# --- Collections ---------------------------------------------------------------------------------


@login_required
def collections(request: HttpRequest) -> HttpResponse:
    form = CollectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        collection = Collection.objects.create(owner=request.user, name=form.cleaned_data["name"])
        messages.success(request, _("Created the collection %(name)s.") % {"name": collection})
        return _back(request, f"/collections/{collection.pk}/")
    if request.htmx and request.method == "POST":
        return render(request, "studio/sharing/collections.html#collection-form", {"form": form})
    ctx = {"form": form, "collections": services.collections_of(request.user)}
    return render(request, "studio/sharing/collections.html", ctx)


@login_required
def collection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    collection = _get_collection_for_user(request, pk)
    form = CollectionForm(request.POST or None, instance=collection)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Renamed the collection to %(name)s.") % {"name": collection})
        return _back(request, f"/collections/{pk}/")
    if request.htmx and request.method == "POST":
        ctx = {"collection": collection, "form": form}
        return render(request, "studio/sharing/collection.html#rename-form", ctx)
    return _collection_page(request, collection, form)


def _collection_page(request: HttpRequest, collection: Collection, form=None) -> HttpResponse:
    ctx = {
        "collection": collection,
        "form": form or CollectionForm(instance=collection),
        "items": services.collection_items(collection),
        "links": services.live_links(collection.links.all()),
    }
    return render(request, "studio/sharing/collection.html", ctx)


@require_GET
@login_required
def download_collection(request: HttpRequest, pk: int) -> HttpResponse:
    """The collection's images, in its order, as a streamed ZIP with a manifest."""
    collection = _get_collection_for_user(request, pk)
    images = [item.image for item in services.collection_items(collection)]
    return downloads.zip_response(
        images,
        f"collection-{collection.pk}.zip",
        metadata=downloads.embeds_metadata(request.user),
    )


@login_required
def delete_collection(request: HttpRequest, pk: int) -> HttpResponse:
    collection = _get_collection_for_user(request, pk)
    if request.method == "POST":
        collection.delete()
        messages.success(
            request,
            _("Deleted %(name)s and its links; its images are still in your gallery.")
            % {"name": collection},
        )
        return _back(request, "/collections/")
    return render(request, "studio/sharing/collection_delete.html", {"collection": collection})


@require_POST
@login_required
def move_item(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    collection = _get_collection_for_user(request, pk)
    item = _get_item_for_user(request, collection, item_pk)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        raise Http404
    services.move_item(item, direction)
    if request.htmx:
        ctx = {"collection": collection, "items": services.collection_items(collection)}
        return render(request, "studio/sharing/collection.html#items", ctx)
    return redirect(f"/collections/{pk}/#item-{item.pk}")


@require_POST
@login_required
def remove_item(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    collection = _get_collection_for_user(request, pk)
    item = _get_item_for_user(request, collection, item_pk)
    item.delete()
    if request.htmx:
        ctx = {"collection": collection, "items": services.collection_items(collection)}
        return render(request, "studio/sharing/collection.html#items", ctx)
    messages.success(request, _("Removed the image from the collection."))
    return redirect(f"/collections/{pk}/")


@login_required
def add_to_collection(request: HttpRequest) -> HttpResponse:
    """The "add to collection" control of the gallery and the image page: a page of its own
    (GET ?image=<pk>) and a form that also works as an htmx fragment."""
    data = request.POST if request.method == "POST" else request.GET
    images = _get_images_for_user(request, data.getlist("image"))
    form = AddToCollectionForm(request.POST or None, owner=request.user)
    ctx = {"form": form, "image_ids": [i.pk for i in images], "next": _next(request, data)}
    template = "studio/sharing/add_to_collection.html"
    if request.method != "POST" or not form.is_valid():
        return render(request, template + "#add-form" if request.htmx else template, ctx)
    collection = form.cleaned_data["collection"] or Collection.objects.create(
        owner=request.user, name=form.cleaned_data["name"]
    )
    try:
        added = services.add_images(collection, images)
    except Collection.DoesNotExist:
        # Deleted (in another tab, say) since the form was checked.
        form.add_error("collection", _("This collection was just deleted: choose another."))
        return render(request, template + "#add-form" if request.htmx else template, ctx)
    if added:
        message = _("Added to %(name)s.") % {"name": collection}
    else:
        message = _("Already in %(name)s.") % {"name": collection}
    if request.htmx:
        form = AddToCollectionForm(owner=request.user)
        ctx.update(done=message, collection=collection, form=form)
        return render(request, template + "#add-form", ctx)
    messages.success(request, message)
    return redirect(ctx["next"] or f"/collections/{collection.pk}/")


def _next(request: HttpRequest, data) -> str:
    url = data.get("next", "")
    safe = url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()})
    return url if safe and url.startswith("/") else ""


# --- Links ---------------------------------------------------------------------------------------


@never_cache
@login_required
def links(request: HttpRequest) -> HttpResponse:
    ctx = {"links": services.links_of(request.user)}
    return render(request, "studio/sharing/links.html", ctx)


@never_cache
@login_required
def new_link(request: HttpRequest) -> HttpResponse:
    """Shares the target named in the query string: ?collection=<pk>, ?image=<pk>, or
    ?gallery=1 followed by the gallery's own filter parameters."""
    target = _target(request)
    is_gallery = target["kind"] == ShareLink.Kind.GALLERY
    form = ShareLinkForm(request.POST or None, owner=request.user, gallery=is_gallery)
    ctx = {
        "form": form,
        "target": target,
        "filters": services.describe_filters(target.get("filters") or {}),
        "action": request.get_full_path(),
    }
    if request.method == "POST" and form.is_valid():
        try:
            link, token = services.create_link(
                request.user,
                audience=form.cleaned_data["audience"],
                team=form.cleaned_data["team"],
                expires_at=form.expires_at(),
                include_later=form.cleaned_data.get("include_later", False),
                **target,
            )
        except Membership.DoesNotExist:
            # The team was deleted, or the user left it, since the form was checked.
            form.add_error("team", _("You are no longer in this team: choose another."))
        except ObjectDoesNotExist:
            # The collection or image was deleted since `_target` found it.
            raise Http404 from None
        else:
            # The token is in this response only: it is not stored, so it cannot be shown again.
            ctx = {"link": link, "url": request.build_absolute_uri(f"/s/{token}/")}
            template = "studio/sharing/link_created.html"
            return render(request, template + "#created" if request.htmx else template, ctx)
    if request.htmx and request.method == "POST":
        return render(request, "studio/sharing/link_new.html#link-form", ctx)
    return render(request, "studio/sharing/link_new.html", ctx)


def _target(request: HttpRequest) -> dict:
    if "collection" in request.GET:
        collection = _get_collection_for_user(request, get_id(request.GET, "collection"))
        return {"kind": ShareLink.Kind.COLLECTION, "collection": collection}
    if "image" in request.GET:
        images = services.owner_images(request.user)
        image = get_object_or_404(images, pk=get_id(request.GET, "image"))
        return {"kind": ShareLink.Kind.IMAGE, "image": image}
    if "comparison" in request.GET:
        comparison = compare.get_comparison_for_user(request, get_id(request.GET, "comparison"))
        return {"kind": ShareLink.Kind.COMPARISON, "comparison": comparison}
    if "gallery" in request.GET:
        filters = services.gallery_filters(request.user, request.GET)
        if filters is None:
            raise Http404
        return {"kind": ShareLink.Kind.GALLERY, "filters": filters.data}
    raise Http404


@require_POST
@login_required
def revoke_link(request: HttpRequest, pk: int) -> HttpResponse:
    link = _get_link_for_user(request, pk)
    services.revoke_link(link)
    messages.success(request, _("Revoked the link: it no longer opens, nor do its images."))
    return _back(request, f"/links/#link-{link.pk}")


@login_required
def shared_with_me(request: HttpRequest) -> HttpResponse:
    ctx = {"links": services.shared_with(request.user)}
    return render(request, "studio/sharing/shared_with_me.html", ctx)
