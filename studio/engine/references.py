"""Reference images for image-to-image: uploaded, checked, re-encoded, then shown to vendors.

Vendors that take URLs fetch the image themselves, so the studio serves it at a short-lived
signed URL under STUDIO_PUBLIC_URL; a user's own URL is never forwarded. Vendors that take files
get the re-encoded bytes as multipart parts."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.http import FileResponse, Http404, HttpRequest
from django.urls import reverse
from django.views.decorators.http import require_GET

from studio.engine import images
from studio.models import ReferenceImage
from studio.vendors.base import Reference

SALT = "studio.reference"
URL_LIFETIME = 3600  # seconds: long enough for a vendor's queue, short enough to go stale


def save_reference(owner, data: bytes) -> ReferenceImage:
    """Raises images.ImageRejected with a sentence for the user."""
    processed = images.process(data)
    reference = ReferenceImage(
        owner=owner,
        format=processed.format,
        width=processed.width,
        height=processed.height,
        sha256=processed.sha256,
    )
    reference.file.save(f"ref.{processed.extension}", ContentFile(processed.content), save=False)
    reference.save()
    return reference


def signed_url(reference: ReferenceImage) -> str | None:
    if not settings.STUDIO_PUBLIC_URL:
        return None
    token = signing.dumps(reference.pk, salt=SALT)
    return settings.STUDIO_PUBLIC_URL + reverse("reference_image", args=[token])


def reference_for_vendor(reference: ReferenceImage, role: str = "image") -> Reference:
    with reference.file.open("rb") as f:
        data = f.read()
    return Reference(
        url=signed_url(reference),
        data=data,
        filename=f"{'mask' if role == 'mask' else 'reference'}-{reference.pk}."
        f"{images.EXTENSIONS[reference.format]}",
        content_type=images.CONTENT_TYPES[reference.format],
        role=role,
    )


@require_GET
def reference_image(request: HttpRequest, token: str) -> FileResponse:
    """Served without sign-in (the vendor fetches it), only while the signature is fresh."""
    try:
        pk = signing.loads(token, salt=SALT, max_age=URL_LIFETIME)
    except signing.BadSignature:
        raise Http404 from None
    reference = ReferenceImage.objects.filter(pk=pk).first()
    if reference is None:
        raise Http404
    response = FileResponse(
        reference.file.open("rb"), content_type=images.CONTENT_TYPES[reference.format]
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
