"""Every vendor, from the form's service call to stored images and ledger entries, in process."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PIL import Image as PILImage

from studio.engine.services import create_generation
from studio.models import CreditEntry, Generation
from tests.engine.conftest import KEY, credential, drive

pytestmark = pytest.mark.django_db(transaction=True)
Status = Generation.Status

CASES = {
    "girlgenerator": ("default", {"aspect_ratio": "1:1"}, 1),
    "aioagi": ("gpt-image-2", {"size": "1024x1024", "n": 2}, 2),
    "lemondata": ("flux-pro", {"size": "512x512"}, 1),
    "chatbp": ("dall-e-3", {"size": "1024x1024"}, 1),
    "chatfire": ("seedream-3.0", {"size": "1024x1024", "n": 2}, 2),
}


@pytest.mark.parametrize("vendor", list(CASES))
def test_each_vendor_job_ends_with_stored_images_and_ledger_rows(vendor, alice, start_fake):
    fake = start_fake(vendor)
    model, params, n = CASES[vendor]
    generation = create_generation(
        alice,
        vendor=vendor,
        credential=credential(alice, vendor),
        model=model,
        prompt="a lighthouse at dusk",
        params=params,
    )
    generation = drive(generation)

    assert generation.status == Status.SUCCEEDED, generation.error_message
    assert generation.submitted_at and generation.running_at and generation.finished_at
    images = list(generation.images.order_by("index"))
    assert [i.index for i in images] == list(range(n))
    for image in images:
        with image.file.open("rb") as f, PILImage.open(f) as stored:
            assert stored.size == (image.width, image.height)
        with image.thumbnail.open("rb") as f, PILImage.open(f) as thumb:
            assert thumb.format == "WEBP"
    # Exactly one paid request reached the vendor.
    posts = [r for r in fake.requests if r.method == "POST"]
    assert len(posts) == 1

    entries = CreditEntry.objects.filter(generation=generation)
    kinds = {e.kind: e for e in entries}
    if vendor == "girlgenerator":
        assert kinds["credits"].amount == Decimal(1)
        assert kinds["credits"].balance_after == fake.balance(KEY)
        generation.credential.refresh_from_db()
        assert generation.credential.balance == kinds["credits"].balance_after
    elif vendor == "aioagi":
        assert kinds["tokens"].amount > 0
    else:
        assert kinds["images"].amount == n


def test_lemondata_sync_models_need_no_polling(alice, start_fake):
    fake = start_fake("lemondata")
    generation = create_generation(
        alice,
        vendor="lemondata",
        credential=credential(alice, "lemondata"),
        model="dall-e-3",
        prompt="a lighthouse",
        params={"size": "1024x1024"},
    )
    generation = drive(generation)
    assert generation.status == Status.SUCCEEDED
    assert generation.polls == 0
    assert [r.method for r in fake.requests if not r.path.startswith("/files/")] == ["POST"]


def test_the_demo_vendor_needs_no_key(alice):
    generation = create_generation(
        alice, vendor="demo", model="demo", prompt="a red fox", params={"n": 2}
    )
    generation = drive(generation)
    assert generation.status == Status.SUCCEEDED
    assert generation.images.count() == 2
    assert generation.polls >= 1  # it goes through the same async path as real vendors
