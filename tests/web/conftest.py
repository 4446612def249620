from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from studio.engine.services import create_generation
from studio.models import Generation, Image

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def web_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STUDIO_VENDOR_URLS = {}
    settings.STUDIO_PUBLIC_URL = ""


def png(width: int = 64, height: int = 48, colour: str = "teal") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def webp(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), "navy").save(out, "WEBP")
    return out.getvalue()


def make_job(owner, prompt: str = "a lighthouse at dusk", **fields) -> Generation:
    job = create_generation(owner, vendor="demo", model="demo", prompt=prompt)
    if fields:
        Generation.objects.filter(pk=job.pk).update(**fields)
        job.refresh_from_db()
    return job


def make_image(owner, prompt: str = "a lighthouse at dusk", job=None, index: int = 0) -> Image:
    job = job or make_job(owner, prompt, status=Generation.Status.SUCCEEDED)
    image = Image(
        generation=job,
        owner=owner,
        index=index,
        width=64,
        height=48,
        format="PNG",
        bytes=100,
        sha256="0" * 64,
    )
    image.file.save("x.png", ContentFile(png()), save=False)
    image.thumbnail.save("x.webp", ContentFile(webp()), save=False)
    image.save()
    return image
