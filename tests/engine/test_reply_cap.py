"""A vendor reply past its byte cap ends the job with a sentence that says so."""

from __future__ import annotations

import json

import pytest

from studio.engine.services import create_generation
from studio.models import Generation
from tests.engine.conftest import credential, drive
from tests.vendors.loopback import Loopback, Scripted, fixed, image_json

pytestmark = pytest.mark.django_db(transaction=True)
Status = Generation.Status
MB = 1_000_000
JSON = {"Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def small_images(settings):
    # The image limit sizes the cap: 1 MB images make the n=1 cap 3.3 MB, quick to pass.
    settings.STUDIO_MAX_DOWNLOAD_BYTES = 1 * MB


def job(user, vendor: str, model: str, url: str, settings) -> Generation:
    settings.STUDIO_VENDOR_URLS = {vendor: url}
    return create_generation(
        user, vendor=vendor, credential=credential(user, vendor), model=model, prompt="a fox"
    )


def test_an_oversized_submit_reply_is_an_unknown_outcome(alice, settings):
    with Loopback(Scripted(200, image_json(20 * MB), JSON)) as server:
        generation = drive(job(alice, "aioagi", "gpt-image-2", server.url, settings))

    assert generation.status == Status.UNKNOWN_OUTCOME and generation.may_have_charged
    assert generation.error_message.startswith(
        "AIOAGI sent a reply larger than 3 MB, more than the studio reads for this request"
    )
    assert generation.raw_reply == {"http_status": 200, "text": "(over 3333337 bytes)"}


def test_an_oversized_poll_reply_fails_the_job_once_not_every_poll(alice, settings):
    accepted = json.dumps({"task_id": "t-1", "status": "pending", "data": [{"url": ""}]})
    replies = (Scripted(200, fixed(accepted.encode()), JSON), Scripted(200, image_json(30 * MB)))
    with Loopback(*replies) as server:
        generation = drive(job(alice, "lemondata", "flux-pro", server.url, settings))
        assert len(server.requests) == 2  # one submit, one poll: no retries of the big reply

    assert generation.status == Status.FAILED and generation.may_have_charged
    assert generation.error_message == (
        "LemonData sent a reply larger than 7 MB, more than the studio reads, so it stopped "
        "asking about this job."
    )
