from __future__ import annotations

import io

import pytest
from PIL import Image

from studio.engine.images import ImageRejected, process


def make(fmt: str, size=(64, 48), mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 60) if mode == "RGB" else 1).save(out, fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_it_keeps_the_format_and_makes_a_webp_thumbnail(fmt):
    result = process(make(fmt, size=(1024, 768)))
    assert (result.format, result.width, result.height) == (fmt, 1024, 768)
    with Image.open(io.BytesIO(result.content)) as stored:
        assert stored.format == fmt
    with Image.open(io.BytesIO(result.thumbnail)) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.size == (512, 384)
    assert len(result.sha256) == 64


def test_it_strips_metadata():
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}  # GPS
    data = make("JPEG", exif=exif.tobytes())
    assert b"SecretCamera" in data
    result = process(data)
    assert b"SecretCamera" not in result.content
    with Image.open(io.BytesIO(result.content)) as stored:
        assert not stored.getexif()


def test_it_applies_the_orientation_before_stripping_it():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    result = process(make("JPEG", size=(40, 20), exif=exif.tobytes()))
    assert (result.width, result.height) == (20, 40)


def test_it_refuses_other_formats():
    with pytest.raises(ImageRejected, match="not a valid PNG, JPEG or WebP"):
        process(make("GIF"))
    with pytest.raises(ImageRejected, match="not a valid"):
        process(make("BMP"))


def test_it_refuses_garbage_and_truncated_images():
    with pytest.raises(ImageRejected):
        process(b"<html>not an image</html>")
    with pytest.raises(ImageRejected):
        process(make("PNG", size=(300, 300))[:200])


def test_it_refuses_a_decompression_bomb(settings):
    settings.STUDIO_MAX_IMAGE_PIXELS = 1_000_000
    # Just over the limit (a warning in Pillow) and far over it (an error): both refused.
    for size in [(1100, 1000), (3000, 3000)]:
        with pytest.raises(ImageRejected, match="more than 1 million pixels"):
            process(make("PNG", size=size, mode="1"))


def test_it_refuses_multi_frame_images():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageRejected, match="multi-frame"):
        process(out.getvalue())
