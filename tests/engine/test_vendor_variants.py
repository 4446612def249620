"""Every reply shape the vendors are seen to send beyond their doc excerpts (VENDORS.md, "What
the vendors really send"), through the real engine over real HTTP against the fakes: images
kept, the right sentence, no poll after a terminal state, exactly one paid POST per job."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from studio.engine.poller import poll_due_generations
from studio.engine.services import create_generation
from studio.models import Generation
from tests.engine.conftest import credential, drive

pytestmark = pytest.mark.django_db(transaction=True)
Status = Generation.Status


@dataclass(frozen=True)
class Case:
    vendor: str
    model: str
    params: dict[str, Any]
    variant: str | None = None
    prompt: str = "a lighthouse at dusk"
    fake: dict[str, Any] = field(default_factory=dict)
    credits: float = 100
    # What the user sees in the end.
    status: str = Status.SUCCEEDED
    images: int = 1
    code: str = ""
    words: str = ""
    # The path of every poll, with {id} for the task id; None when nothing may be polled.
    poll: str | None = None


CASES = {
    # ChatFire answering in the plain OpenAI shape its own clients parse.
    "chatfire-openai": Case("chatfire", "seedream-3.0", {"n": 2}, "openai", images=2, poll=None),
    "chatfire-openai-b64": Case(
        "chatfire", "seedream-3.0", {}, "openai", prompt="a lighthouse [fake:b64]"
    ),
    "chatfire-openai-nothing": Case(
        "chatfire",
        "seedream-3.0",
        {},
        "openai",
        prompt="a lighthouse [fake:no_images]",
        status=Status.UNKNOWN_OUTCOME,
        images=0,
        code="unexpected_response",
        words="ChatFire's reply had no status, no task id and no images",
    ),
    "chatfire-task-path": Case(
        "chatfire", "seedream-3.0", {}, fake={"instant": False}, poll="/v1/images/task/{id}"
    ),
    "chatfire-relay-path": Case(
        "chatfire",
        "seedream-3.0",
        {},
        fake={"instant": False, "poll_path": "/v1/images/generations/{task_id}"},
        # The evidence's path first; its 404 sends the poll to the relay convention.
        poll="/v1/images/(task|generations)/{id}",
    ),
    "chatfire-cancelled": Case(
        "chatfire",
        "seedream-3.0",
        {},
        prompt="a lighthouse [fake:cancelled]",
        fake={"instant": False},
        status=Status.FAILED,
        images=0,
        code="vendor_unavailable",
        words="was cancelled",
        poll="/v1/images/task/{id}",
    ),
    # Chat Bp relays of the same template.
    "chatbp-created-task-id": Case(
        "chatbp", "dall-e-3", {}, "created_task_id", poll="/v1/images/tasks/{id}"
    ),
    "chatbp-sub2api": Case(
        "chatbp", "gpt-image-1", {"n": 2}, "sub2api", images=2, poll="/v1/images/tasks/{id}"
    ),
    "chatbp-image-url": Case("chatbp", "dall-e-3", {}, "image_url", poll="/v1/images/tasks/{id}"),
    "chatbp-cancelled": Case(
        "chatbp",
        "dall-e-3",
        {},
        "sub2api",
        prompt="a lighthouse [fake:cancelled]",
        status=Status.FAILED,
        images=0,
        code="vendor_unavailable",
        words="was cancelled",
        poll="/v1/images/tasks/{id}",
    ),
    "chatbp-expired": Case(
        "chatbp",
        "dall-e-3",
        {},
        prompt="a lighthouse [fake:expired]",
        status=Status.FAILED,
        images=0,
        code="vendor_unavailable",
        words="expired",
        poll="/v1/images/tasks/{id}",
    ),
    "chatbp-used-up": Case(
        "chatbp",
        "dall-e-3",
        {},
        "newapi_401_exhausted",
        credits=0,
        status=Status.FAILED,
        images=0,
        code="insufficient_credits",
        words="no credits left",
    ),
    "aioagi-used-up": Case(
        "aioagi",
        "gpt-image-2",
        {},
        "newapi_401_exhausted",
        credits=0,
        status=Status.FAILED,
        images=0,
        code="insufficient_credits",
        words="no credits left",
    ),
    # LemonData's async replies as its newer docs show them.
    "lemondata-id": Case("lemondata", "flux-pro", {}, "id_only", poll="/v1/images/{id}"),
    "lemondata-poll-url": Case("lemondata", "flux-pro", {}, "poll_url_only", poll="/v1/tasks/{id}"),
    # gpt-image-2 is sent with `"async": true`, so it comes back as a task to poll.
    "lemondata-gpt-image-2": Case(
        "lemondata", "gpt-image-2", {"size": "1536x1024"}, poll="/v1/images/generations/{id}"
    ),
    "lemondata-cancelled": Case(
        "lemondata",
        "flux-pro",
        {},
        prompt="a lighthouse [fake:cancelled]",
        status=Status.FAILED,
        images=0,
        code="vendor_unavailable",
        words="was cancelled",
        poll="/v1/images/generations/{id}",
    ),
    "lemondata-quota-exceeded": Case(
        "lemondata",
        "dall-e-3",
        {},
        "quota_exceeded",
        credits=0,
        status=Status.FAILED,
        images=0,
        code="insufficient_credits",
        words="no credits left",
    ),
    "lemondata-model-not-allowed": Case(
        "lemondata",
        "dall-e-3",
        {},
        prompt="a lighthouse [fake:model_not_allowed]",
        status=Status.FAILED,
        images=0,
        code="invalid_params",
        words="does not allow this key to use the chosen model",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_reply_variant_ends_as_a_user_expects(name, alice, start_fake):
    case = CASES[name]
    fake = start_fake(case.vendor, credits=case.credits)
    fake.set(variant=case.variant, **case.fake)
    generation = create_generation(
        alice,
        vendor=case.vendor,
        credential=credential(alice, case.vendor),
        model=case.model,
        prompt=case.prompt,
        params=case.params,
    )

    generation = drive(generation)

    assert generation.status == case.status, generation.error_message
    assert generation.images.count() == case.images
    assert generation.error_code == case.code
    assert case.words in generation.error_message
    assert generation.raw_reply, "the cleaned reply stays on the job"
    assert len([r for r in fake.requests if r.method == "POST"]) == 1
    polls = [r.path for r in fake.requests if r.method == "GET" and "/files/" not in r.path]
    if case.poll is None:
        assert polls == []
    else:
        pattern = case.poll.replace("{id}", re.escape(generation.remote_id))
        assert polls and all(re.fullmatch(pattern, path) for path in polls), polls
    # Nothing more is asked once the vendor's answer was terminal.
    before = len(fake.requests)
    poll_due_generations(pass_seconds=0.3)
    assert len(fake.requests) == before
