"""Image files. MEDIA_ROOT is never served as such: every file goes through a view that has
already decided who may see it (here the owner; share links will check their token)."""

from __future__ import annotations

from typing import Literal

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from studio.downloads import services as downloads
from studio.engine.images import CONTENT_TYPES, EXTENSIONS
from studio.models import Image
from studio.web.owned import get_image_for_user, get_reference_for_user

# Files never change under a name (names are random), so a private cache may keep them.
CACHE_CONTROL = "private, max-age=3600"


def image_response(
    image: Image, which: Literal["file", "thumbnail"] = "file", download: bool = False
) -> FileResponse:
    """The image's original or its WebP thumbnail; `download` asks the browser to save it."""
    if which == "thumbnail":
        field, content_type, extension = image.thumbnail, "image/webp", "webp"
    else:
        field, content_type = image.file, CONTENT_TYPES.get(image.format, "image/png")
        extension = EXTENSIONS.get(image.format, "png")
    response = FileResponse(
        field.open("rb"),
        content_type=content_type,
        as_attachment=download,
        filename=f"studio-{image.generation_id}-{image.index + 1}.{extension}",
    )
    response["Cache-Control"] = CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@login_required
def image_file(request: HttpRequest, pk: int) -> FileResponse:
    return image_response(get_image_for_user(request, pk))


@require_GET
@login_required
def image_thumbnail(request: HttpRequest, pk: int) -> FileResponse:
    return image_response(get_image_for_user(request, pk), "thumbnail")


@require_GET
@login_required
def image_download(request: HttpRequest, pk: int) -> HttpResponse:
    image = get_image_for_user(request, pk)
    if not downloads.embeds_metadata(request.user):
        return image_response(image, download=True)
    # The stored file stays bare; its copy gets prompt and settings, read whole (one image).
    response = HttpResponse(
        downloads.image_bytes(image, metadata=True),
        content_type=CONTENT_TYPES.get(image.format, "image/png"),
    )
    response["Content-Disposition"] = f'attachment; filename="{downloads.file_name(image)}"'
    response["Cache-Control"] = CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@login_required
def reference_file(request: HttpRequest, pk: int) -> FileResponse:
    reference = get_reference_for_user(request, pk)
    response = FileResponse(
        reference.file.open("rb"), content_type=CONTENT_TYPES.get(reference.format, "image/png")
    )
    response["Cache-Control"] = CACHE_CONTROL
    return response
