"""The gallery: every kept image, newest first, with filters and prompt search; one image's
page; favourites; soft delete with undo."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from studio.engine.images import ImageRejected
from studio.engine.references import save_reference
from studio.models import Generation, Image
from studio.templatetags.studio import vendor_label
from studio.web import search
from studio.web.forms import reference_target
from studio.web.owned import get_image_for_user
from studio.web.paging import keyset_page
from studio.web.params import DayField, parse_id

PAGE_SIZE = 48
UNDO_WINDOW = timedelta(minutes=10)


class GalleryFilters(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search prompts"), required=False, max_length=200)
    vendor = forms.ChoiceField(label=gettext_lazy("Vendor"), required=False)
    model = forms.ChoiceField(label=gettext_lazy("Model"), required=False)
    status = forms.ChoiceField(label=gettext_lazy("Job status"), required=False)
    start = DayField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = DayField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    favourites = forms.BooleanField(label=gettext_lazy("Favourites only"), required=False)

    def __init__(self, data, owner) -> None:
        super().__init__(data)
        # order_by(): without it the model's default ordering joins the DISTINCT and every job
        # comes back (10,000 rows for a user with 10,000 images) instead of a few pairs.
        pairs = (
            Generation.objects.filter(owner=owner)
            .order_by()
            .values_list("vendor", "model")
            .distinct()
        )
        pairs = sorted(set(pairs))
        anything = [("", _("Any"))]
        vendors = sorted({v for v, _m in pairs})
        self.fields["vendor"].choices = anything + [(v, vendor_label(v)) for v in vendors]
        self.fields["model"].choices = anything + [(m, m) for m in sorted({m for _v, m in pairs})]
        self.fields["status"].choices = anything + list(Generation.Status.choices)

    def apply(self, images: QuerySet) -> QuerySet:
        if not self.is_valid():
            return images.none()
        data = self.cleaned_data
        for name in ("vendor", "model", "status"):
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


def start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@login_required
def gallery(request: HttpRequest) -> HttpResponse:
    filters = GalleryFilters(request.GET, request.user)
    images = Image.objects.visible().filter(owner=request.user)
    images = filters.apply(images).select_related("generation")
    page, next_cursor = keyset_page(images, request.GET.get("after"), PAGE_SIZE)
    ctx = {
        "filters": filters,
        "images": page,
        "next_query": filters.query(after=next_cursor) if next_cursor else "",
        "is_first_page": not request.GET.get("after"),
        "deleted": recently_deleted(request),
    }
    if request.htmx and request.GET.get("after"):
        return render(request, "studio/gallery.html#more-tiles", ctx)
    return render(request, "studio/gallery.html", ctx)


def recently_deleted(request: HttpRequest) -> Image | None:
    pk = parse_id(request.GET.get("deleted"))
    if pk is None:
        return None
    return Image.objects.filter(
        pk=pk, owner=request.user, deleted_at__gt=timezone.now() - UNDO_WINDOW
    ).first()


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
