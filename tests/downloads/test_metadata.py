"""Metadata written into downloaded files: read back with Pillow, pixels untouched."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image as PILImage

from studio.downloads.metadata import ImageMetadata, with_metadata
from tests.downloads.conftest import encoded, make_image

META = ImageMetadata(
    prompt='a 灯塔 at dusk <b>&"quoted"',
    vendor="chatbp",
    model="gpt-image-1",
    parameters={"size": "1024x1024", "quality": "high"},
    created="2026-12-04T10:00:00+00:00",
)


def opened(data: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(data))
    image.load()
    return image


def test_it_writes_png_itxt_that_pillow_reads():
    data = with_metadata(encoded("PNG"), "PNG", META)
    image = opened(data)
    assert image.text["prompt"] == META.prompt
    assert image.text["vendor"] == "chatbp" and image.text["model"] == "gpt-image-1"
    assert json.loads(image.text["parameters"]) == META.parameters
    assert image.text["created"] == META.created
    assert image.tobytes() == opened(encoded("PNG")).tobytes()


@pytest.mark.parametrize(
    "fmt, options",
    [("JPEG", {}), ("WEBP", {"lossless": True}), ("WEBP", {"quality": 80})],
)
def test_it_writes_xmp_into_jpeg_and_webp(fmt, options):
    out = io.BytesIO()
    PILImage.new("RGB", (40, 30), "navy").save(out, fmt, **options)
    data = with_metadata(out.getvalue(), fmt, META)
    image = opened(data)
    xmp = image.info["xmp"].decode()
    assert "a 灯塔 at dusk &lt;b&gt;&amp;" in xmp
    assert "<studio:model>gpt-image-1</studio:model>" in xmp
    assert "<xmp:CreateDate>2026-12-04T10:00:00+00:00</xmp:CreateDate>" in xmp
    # Spliced in, not re-encoded: the same pixels as the file without metadata.
    assert image.size == (40, 30)
    assert image.tobytes() == opened(out.getvalue()).tobytes()


def test_a_huge_prompt_still_fits_a_jpeg_segment():
    long = ImageMetadata("灯" * 40_000, "demo", "demo", {}, "2026-12-04T10:00:00+00:00")
    image = opened(with_metadata(encoded("JPEG"), "JPEG", long))
    assert "灯灯灯" in image.info["xmp"].decode()


def test_bytes_that_are_not_the_format_are_left_alone():
    assert with_metadata(b"not an image", "PNG", META) == b"not an image"


def test_a_download_carries_the_prompt_and_the_stored_file_stays_bare(alice_client, alice):
    image = make_image(alice, "a fox in the snow", quality="high")
    stored = image.file.read()
    image.file.close()
    r = alice_client.get(f"/images/{image.pk}/download/")
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    downloaded = opened(r.content)
    assert downloaded.text["prompt"] == "a fox in the snow"
    assert json.loads(downloaded.text["parameters"]) == {"quality": "high"}
    assert "prompt" not in opened(stored).info
    image.refresh_from_db()
    with image.file.open("rb") as f:
        assert f.read() == stored


def test_the_setting_turns_download_metadata_off(alice_client, alice):
    image = make_image(alice, "a fox in the snow", fmt="JPEG")
    r = alice_client.get("/downloads/settings/")
    assert r.status_code == 200 and b'name="embed_metadata"' in r.content
    assert b"checked" in r.content  # on unless turned off
    assert "xmp" in opened(alice_client.get(f"/images/{image.pk}/download/").content).info

    r = alice_client.post("/downloads/settings/", {})  # the box unticked
    assert r.status_code == 302
    downloaded = b"".join(alice_client.get(f"/images/{image.pk}/download/").streaming_content)
    with image.file.open("rb") as f:
        assert downloaded == f.read()
    assert b"checked" not in alice_client.get("/downloads/settings/").content
