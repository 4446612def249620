"""Real images in the database and storage, made the way the engine keeps them."""

from __future__ import annotations

import io
from datetime import timedelta

from django.utils import timezone
from PIL import Image as PILImage

from studio.engine.images import process
from studio.engine.store import save_image
from studio.models import Generation, Image
from studio.vendors.base import ImageSource


def png(colour: str = "teal", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def make_image(owner, prompt: str = "a lighthouse at dusk", colour: str = "teal") -> Image:
    now = timezone.now()
    generation = Generation.objects.create(
        owner=owner,
        vendor="demo",
        model="demo",
        prompt=prompt,
        status=Generation.Status.SUCCEEDED,
        deadline=now + timedelta(minutes=15),
        finished_at=now,
    )
    save_image(generation, 0, process(png(colour)), ImageSource())
    return generation.images.get()
