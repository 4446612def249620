from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image as PILImage

from studio.engine.images import process
from studio.engine.store import save_image
from studio.models import Generation, Image
from studio.vendors.base import ImageSource


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def encoded(fmt: str = "PNG", size=(64, 48), colour="teal") -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def make_image(
    owner, prompt: str = "a lighthouse at dusk", fmt: str = "PNG", size=(64, 48), **params
) -> Image:
    """An image stored the way the engine stores one (re-encoded, no metadata)."""
    now = timezone.now()
    generation = Generation.objects.create(
        owner=owner,
        vendor="demo",
        model="demo-model",
        prompt=prompt,
        params=params or {"size": f"{size[0]}x{size[1]}"},
        status=Generation.Status.SUCCEEDED,
        deadline=now + timedelta(minutes=15),
        finished_at=now,
    )
    save_image(generation, 0, process(encoded(fmt, size)), ImageSource())
    return generation.images.get()


def read_zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
