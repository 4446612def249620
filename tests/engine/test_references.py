"""Image-to-image: references are checked, re-encoded, and reach vendors as URLs or files."""

from __future__ import annotations

import io

import httpx
import pytest
from django.core.exceptions import ValidationError
from PIL import Image as PILImage

from studio.engine.images import ImageRejected
from studio.engine.references import save_reference, signed_url
from studio.engine.services import create_generation
from studio.models import Generation
from tests.engine.conftest import credential, drive

pytestmark = pytest.mark.django_db(transaction=True)


def png(color="green", size=(96, 64)) -> bytes:
    out = io.BytesIO()
    exif = PILImage.Exif()
    exif[0x010F] = "CameraMaker"
    PILImage.new("RGB", size, color).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_an_uploaded_reference_is_checked_and_stripped(alice):
    reference = save_reference(alice, png())
    assert (reference.format, reference.width, reference.height) == ("JPEG", 96, 64)
    with reference.file.open("rb") as f:
        assert b"CameraMaker" not in f.read()
    with pytest.raises(ImageRejected):
        save_reference(alice, b"GIF89a not really")


def test_a_url_vendor_fetches_the_reference_from_a_signed_studio_url(
    alice, start_fake, live_server, settings
):
    settings.STUDIO_PUBLIC_URL = live_server.url
    fake = start_fake("girlgenerator")
    reference = save_reference(alice, png())
    generation = create_generation(
        alice,
        vendor="girlgenerator",
        credential=credential(alice, "girlgenerator"),
        model="default",
        scene="image-to-image",
        prompt="the same, at night",
        references=[reference],
    )
    generation = drive(generation)
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    sent = next(body for path, body in fake.bodies if path == "/api/v1/generate")
    (url,) = sent["image_input"]
    assert url.startswith(live_server.url + "/r/")
    # The signed URL serves the image to anyone holding it, and nothing for a tampered token.
    assert httpx.get(url).headers["content-type"] == "image/jpeg"
    assert httpx.get(url[:-3] + "xx/").status_code == 404


def test_a_url_vendor_refuses_references_without_a_public_address(alice, settings):
    settings.STUDIO_PUBLIC_URL = ""
    reference = save_reference(alice, png())
    assert signed_url(reference) is None
    with pytest.raises(ValidationError) as caught:
        create_generation(
            alice,
            vendor="girlgenerator",
            credential=credential(alice, "girlgenerator"),
            model="default",
            scene="image-to-image",
            prompt="x",
            references=[reference],
        )
    assert "STUDIO_PUBLIC_URL" in caught.value.message_dict["references"][0]
    assert not Generation.objects.exists()


def test_a_multipart_vendor_gets_the_reference_files(alice, start_fake, settings):
    settings.STUDIO_PUBLIC_URL = ""
    fake = start_fake("aioagi")
    references = [save_reference(alice, png("red")), save_reference(alice, png("blue"))]
    generation = create_generation(
        alice,
        vendor="aioagi",
        credential=credential(alice, "aioagi"),
        model="gpt-image-2",
        scene="edit",
        prompt="merge them",
        references=references,
    )
    generation = drive(generation)
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    sent = next(body for path, body in fake.bodies if path.endswith("/images/edits"))
    assert len(sent["files"]["image[]"]) == 2


EDIT = {"vendor": "aioagi", "model": "gpt-image-2", "scene": "edit", "prompt": "x"}


def real_png(size=(96, 64)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGBA", size, (0, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()


def test_an_edit_mask_reaches_a_multipart_vendor_and_a_retry_keeps_it(alice, start_fake, settings):
    from studio.engine.services import submit_again

    settings.STUDIO_PUBLIC_URL = ""
    fake = start_fake("aioagi")
    key = credential(alice, "aioagi")
    reference, mask = save_reference(alice, real_png()), save_reference(alice, real_png())
    edit = {**EDIT, "credential": key}
    generation = drive(create_generation(alice, **edit, references=[reference], mask=mask))
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    with mask.file.open("rb") as f:
        assert fake.masks == [f.read()]
    again = drive(submit_again(generation))
    assert (again.mask, again.status) == (mask, Generation.Status.SUCCEEDED)
    assert len(fake.masks) == 2


def test_a_mask_must_be_a_png_the_size_of_the_first_image(alice, settings):
    settings.STUDIO_PUBLIC_URL = ""
    key = credential(alice, "aioagi")
    reference = save_reference(alice, real_png((96, 64)))
    edit = {**EDIT, "credential": key}
    for mask, words in (
        (save_reference(alice, real_png((64, 64))), "64×64"),
        (save_reference(alice, png(size=(96, 64))), "PNG"),
    ):
        with pytest.raises(ValidationError) as caught:
            create_generation(alice, **edit, references=[reference], mask=mask)
        assert words in caught.value.message_dict["mask"][0]
    assert not Generation.objects.exists()
