"""The gallery: every kept image, newest first, with filters and prompt search; one image's
page; favourites; soft delete with undo."""

from __future__ import annotations

import html
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from studio.downloads import services as downloads
from studio.engine.images import ImageRejected
from studio.engine.references import save_reference
from studio.models import Generation, Image
from studio.templatetags.studio import (
    alt_text,
    aspect_class,
    date_formatter,
    truncated,
    vendor_label,
)
from studio.web import search
from studio.web.forms import reference_target
from studio.web.owned import get_image_for_user
from studio.web.paging import keyset_page
from studio.web.params import ChoiceOfField, DayField, id_urls, parse_id

PAGE_SIZE = 48
UNDO_WINDOW = timedelta(minutes=10)
# A selection larger than this is refused with a message (a ZIP of 1,000 images is already
# gigabytes; the limit also bounds the query's IN list).
BULK_LIMIT = 1000


class GalleryFilters(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search prompts"), required=False, max_length=200)
    vendor = forms.ChoiceField(label=gettext_lazy("Vendor"), required=False)
    model = forms.ChoiceField(label=gettext_lazy("Model"), required=False)
    start = DayField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = DayField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    favourites = forms.BooleanField(label=gettext_lazy("Favourites only"), required=False)

    def __init__(self, data, owner) -> None:
        super().__init__(data)
        pairs = sorted(set(vendor_model_pairs(owner)))
        anything = [("", _("Any"))]
        vendors = sorted({v for v, _m in pairs})
        self.fields["vendor"].choices = anything + [(v, vendor_label(v)) for v in vendors]
        self.fields["model"].choices = anything + [(m, m) for m in sorted({m for _v, m in pairs})]

    def apply(self, images: QuerySet) -> QuerySet:
        if not self.is_valid():
            return images.none()
        data = self.cleaned_data
        # No job status: only finished jobs have images; failed ones are on the jobs page.
        for name in ("vendor", "model"):
            if data[name]:
                images = images.filter(**{f"generation__{name}": data[name]})
        if data["favourites"]:
            images = images.filter(favourite=True)
        if data["start"]:
            images = images.filter(created_at__gte=start_of(data["start"]))
        if data["end"]:
            images = images.filter(created_at__lt=start_of(data["end"] + timedelta(days=1)))
        if data["q"].strip():
            images = search.search_prompts(images, data["q"], "generation__prompt")
        return images

    def query(self, **extra) -> str:
        values = {k: v for k, v in self.data.items() if v and k not in ("after", "deleted")}
        return urlencode({**values, **extra})


# PostgreSQL (before 18) has no skip scan: its DISTINCT reads all of a user's jobs from the
# index (12 ms at 100,000 jobs). This walks the index from one pair to the next instead, one
# probe per pair (0.2 ms; benchmarks/README.md, million).
NEXT_PAIRS = """
WITH RECURSIVE pairs AS (
    (SELECT vendor, model FROM studio_generation WHERE owner_id = %(owner)s
     ORDER BY vendor, model LIMIT 1)
    UNION ALL
    SELECT later.vendor, later.model FROM pairs, LATERAL (
        SELECT vendor, model FROM studio_generation
        WHERE owner_id = %(owner)s AND (vendor, model) > (pairs.vendor, pairs.model)
        ORDER BY vendor, model LIMIT 1
    ) later
)
SELECT vendor, model FROM pairs
"""


def vendor_model_pairs(owner) -> list[tuple[str, str]]:
    """The (vendor, model) pairs of the owner's jobs, through the generation_vendor_model
    index. SQLite skips through that index by itself."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(NEXT_PAIRS, {"owner": owner.pk})
            return cursor.fetchall()
    # order_by(): without it the model's default ordering joins the DISTINCT and every job
    # comes back (10,000 rows for a user with 10,000 images) instead of a few pairs.
    pairs = Generation.objects.filter(owner=owner).order_by().values_list("vendor", "model")
    return list(pairs.distinct())


def start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@login_required
def gallery(request: HttpRequest) -> HttpResponse:
    filters = GalleryFilters(request.GET, request.user)
    images = Image.objects.visible().filter(owner=request.user)
    # Only what a tile shows, as rows rather than models: a job's params and errors are not
    # read, and 96 model instances cost the page 2 ms (benchmarks/README.md, million).
    images = filters.apply(images).values_list(*TILE_COLUMNS, named=True)
    page, next_cursor = keyset_page(images, request.GET.get("after"), PAGE_SIZE)
    ctx = {
        "filters": filters,
        "images": page,
        "tiles": tiles_html(page),
        "next_query": filters.query(after=next_cursor) if next_cursor else "",
        "is_first_page": not request.GET.get("after"),
        "deleted": recently_deleted(request),
        "bulk": BulkForm(request.user),
    }
    if request.htmx and request.GET.get("after"):
        return render(request, "studio/gallery.html#more-tiles", ctx)
    return render(request, "studio/gallery.html", ctx)


# The columns a tile reads (and the keyset cursor: created_at, pk).
TILE_COLUMNS = (
    "pk",
    "generation_id",
    "created_at",
    "favourite",
    "width",
    "height",
    "generation__prompt",
    "generation__vendor",
    "generation__model",
)
# Each tile's links, by their name in TILE.
TILE_LINKS = {
    "page": "image",
    "file": "image_file",
    "thumbnail": "image_thumbnail",
    "download": "image_download",
    "favourite": "image_favourite",
    "reference": "image_reference",
}


# One gallery tile. Built in Python, as the admin builds its change list's rows: through the
# template engine, 48 tiles of some 40 variables each were half the page's time at a million
# images (benchmarks/README.md, million). Every value is escaped (`html.escape`, which Django's
# `escape` wraps; format_html's lazy-string checks on 1,000 values were a tenth of the page),
# except `select` and `fav_mark`, built here from escaped parts. Ids and sizes are plain
# numbers, never localized.
TILE = """<li class="tile {aspect}" data-id="{pk}">
  <input type="checkbox" class="tile-check" name="image" value="{pk}" form="bulk-form" \
id="select-{pk}">
  <label for="select-{pk}" class="visually-hidden">{select}</label>
  <a href="{page}" class="tile-link" data-full="{file}" data-download="{download}" \
data-favourite="{favourite}" data-reference="{reference}" data-again="{again}" \
data-fav="{fav}" data-width="{width}" data-height="{height}" data-prompt="{prompt}">
    <img src="{thumbnail}" srcset="{thumbnail} 512w, {file} {width}w" \
sizes="(max-width: 640px) 50vw, 256px" width="{width}" height="{height}" loading="lazy" \
decoding="async" alt="{alt}">
    <span class="tile-info">
      <span class="tile-prompt">{short_prompt}</span>
      <span>{vendor} · {model}</span>
      <time datetime="{iso}">{when}</time>
    </span>
  </a>
  <a class="tile-add" href="{add_url}?image={pk}" title="{add_label}">+<span \
class="visually-hidden">{add_label}</span></a>{fav_mark}
</li>
"""
FAV_MARK = '<span class="fav-mark" title="{0}">★<span class="visually-hidden">{0}</span></span>'


def tiles_html(images) -> str:
    """The page's tiles, for rows of TILE_COLUMNS; each kind of link reversed once a page."""
    urls = {name: id_urls(view) for name, view in TILE_LINKS.items()}
    select = _("Select: %(prompt)s")
    add_label = _("Add to collection")
    fav_mark = format_html(FAV_MARK, _("Favourite"))
    add_url = reverse("add_to_collection")
    again = reverse("generate") + "?from="
    when = date_formatter("SHORT_DATETIME_FORMAT")
    # Looked up once: each lookup reads a context-local, 12 µs a tile (benchmarks/README.md).
    here = timezone.get_current_timezone()
    vendors: dict[str, str] = {}
    tiles = []
    for image in images:
        prompt = image.generation__prompt
        vendor = image.generation__vendor
        if vendor not in vendors:
            vendors[vendor] = vendor_label(vendor)
        values = {
            "pk": image.pk,
            "aspect": aspect_class(image),
            "again": f"{again}{image.generation_id}",
            "fav": "1" if image.favourite else "0",
            "width": image.width,
            "height": image.height,
            "prompt": prompt,
            "alt": alt_text(prompt),
            "short_prompt": truncated(prompt, 140),
            "vendor": vendors[vendor],
            "model": image.generation__model,
            "iso": image.created_at.isoformat(),
            "when": when(timezone.localtime(image.created_at, here)),
            "add_url": add_url,
            "add_label": add_label,
            **{name: url(image.pk) for name, url in urls.items()},
        }
        escaped = {name: html.escape(str(value)) for name, value in values.items()}
        # As {% blocktranslate %} does: the message is trusted, the prompt escaped.
        escaped["select"] = select % {"prompt": html.escape(truncated(prompt, 60))}
        escaped["fav_mark"] = fav_mark if image.favourite else ""
        tiles.append(TILE.format_map(escaped))
    return mark_safe("".join(tiles))


def recently_deleted(request: HttpRequest) -> list[Image]:
    """The images named by `?deleted=` (one, or several after a bulk delete) still undoable."""
    pks = {parse_id(value) for value in request.GET.getlist("deleted")[:BULK_LIMIT]} - {None}
    if not pks:
        return []
    return list(
        Image.objects.filter(
            pk__in=pks, owner=request.user, deleted_at__gt=timezone.now() - UNDO_WINDOW
        )
    )


@login_required
def image(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk)
    generation = image.generation
    ctx = {
        "image": image,
        "generation": generation,
        "spend": list(generation.spend.all()),
        "siblings": list(generation.images.visible().exclude(pk=image.pk).order_by("index")),
        "references": list(generation.references.all()),
    }
    return render(request, "studio/image.html", ctx)


@require_POST
@login_required
def favourite(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk)
    image.favourite = request.POST.get("favourite") == "1"
    Image.objects.filter(pk=image.pk).update(favourite=image.favourite)
    if request.htmx:
        return render(request, "studio/image.html#favourite", {"image": image})
    return redirect("image", image.pk)


@require_POST
@login_required
def use_as_reference(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk)
    with image.file.open("rb") as f:
        data = f.read()
    try:
        reference = save_reference(request.user, data)
    except ImageRejected as exc:
        messages.error(request, str(exc))
        return redirect("image", image.pk)
    query = urlencode(
        {
            "from": image.generation_id,
            "reference": reference.pk,
            "scene": "image-to-image",
            **reference_target(request.user),
        }
    )
    return redirect(f"/?{query}")


@login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk)
    if request.method != "POST":
        return render(request, "studio/image_delete.html", {"image": image})
    Image.objects.filter(pk=image.pk).update(deleted_at=timezone.now())
    return redirect(f"/gallery/?deleted={image.pk}")


@require_POST
@login_required
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk, deleted=True)
    Image.objects.filter(pk=image.pk).update(deleted_at=None)
    messages.success(request, _("The image is back."))
    return redirect("image", image.pk)


def purge_deleted_images() -> int:
    """Scheduled task: removes images (rows and files) whose undo window has passed."""
    purged = 0
    stale = Image.objects.filter(deleted_at__lt=timezone.now() - UNDO_WINDOW)
    for image in stale.iterator():
        for field in (image.file, image.thumbnail):
            if field:
                field.delete(save=False)
        image.delete()
        purged += 1
    return purged


class BulkForm(forms.Form):
    """What to do with the selected images (the gallery's checkboxes, named "image")."""

    ACTIONS = {
        "add": gettext_lazy("Add to collection"),
        "remove": gettext_lazy("Remove from collection"),
        "favourite": gettext_lazy("Favourite"),
        "unfavourite": gettext_lazy("Unfavourite"),
        "delete": gettext_lazy("Delete"),
        "zip": gettext_lazy("Download as ZIP"),
    }
    action = forms.ChoiceField(choices=list(ACTIONS.items()))
    collection = ChoiceOfField(label=gettext_lazy("Collection"), queryset=None, required=False)

    def __init__(self, owner, data=None) -> None:
        # Imported here: studio.sharing.services imports this module for GalleryFilters.
        from studio.sharing import services as sharing

        super().__init__(data)
        self.owner = owner
        self.fields["collection"].queryset = sharing.collection_choices(owner)
        self.fields["collection"].empty_label = _("Choose a collection")

    def clean(self):
        data = super().clean()
        if data.get("action") in ("add", "remove") and not data.get("collection"):
            self.add_error("collection", _("Choose a collection for this action."))
        ids = self.data.getlist("image") if self.data else []
        pks = {parse_id(value) for value in ids} - {None}
        if not pks:
            raise forms.ValidationError(_("Select at least one image."))
        if len(pks) > BULK_LIMIT:
            raise forms.ValidationError(
                _("Select at most %(limit)s images at once.") % {"limit": BULK_LIMIT}
            )
        # Only the owner's visible images: anyone else's id is simply not among them.
        data["images"] = Image.objects.visible().filter(owner=self.owner, pk__in=pks)
        return data


@require_POST
@login_required
def bulk(request: HttpRequest) -> HttpResponse:
    from studio.sharing import services as sharing  # see BulkForm.__init__

    form = BulkForm(request.user, request.POST)
    back = safe_next(request)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    action, images = form.cleaned_data["action"], form.cleaned_data["images"]
    collection = form.cleaned_data["collection"]
    if action == "zip":
        images = images.select_related("generation").order_by("-created_at", "-pk")
        return downloads.zip_response(
            images, "studio-images.zip", metadata=downloads.embeds_metadata(request.user)
        )
    if action == "delete":
        pks = list(images.values_list("pk", flat=True))
        images.update(deleted_at=timezone.now())
        return redirect("/gallery/?" + urlencode([("deleted", pk) for pk in pks]))
    if action in ("favourite", "unfavourite"):
        count = images.update(favourite=action == "favourite")
    elif action == "add":
        try:
            count = sharing.add_images(collection, images)
        except ObjectDoesNotExist:
            count = 0
    else:
        count = sharing.remove_images(collection, images)
    messages.success(
        request,
        ngettext("%(count)s image changed.", "%(count)s images changed.", count) % {"count": count},
    )
    return redirect(back)


@require_POST
@login_required
def restore_many(request: HttpRequest) -> HttpResponse:
    """Undo of a bulk delete: brings back those of the images still in their undo window."""
    pks = {parse_id(value) for value in request.POST.getlist("image")[:BULK_LIMIT]} - {None}
    count = Image.objects.filter(
        pk__in=pks, owner=request.user, deleted_at__gt=timezone.now() - UNDO_WINDOW
    ).update(deleted_at=None)
    messages.success(
        request,
        ngettext("%(count)s image is back.", "%(count)s images are back.", count)
        % {"count": count},
    )
    return redirect("/gallery/")


def safe_next(request: HttpRequest) -> str:
    url = request.POST.get("next", "")
    if url.startswith("/") and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return "/gallery/"
