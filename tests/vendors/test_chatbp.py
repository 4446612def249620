from __future__ import annotations

import httpx
import pytest

from studio.vendors.base import (
    Accepted,
    ErrorCode,
    Failed,
    Finished,
    GenerationRequest,
    Reference,
    Running,
)
from tests.vendors.conftest import KEY, Env, finish, make_env, open_png, png_bytes


@pytest.fixture
def bp(fakes, client: httpx.Client) -> Env:
    return make_env("chatbp", fakes, client)


@pytest.mark.parametrize("shape", ["task_id", "id", "data"])
def test_the_task_id_comes_in_any_of_three_shapes(bp: Env, shape: str) -> None:
    bp.fake.async_reply = shape

    submitted = bp.submit()

    assert isinstance(submitted, Accepted)
    assert submitted.remote_id in bp.fake.tasks
    assert isinstance(finish(bp.adapter, bp.conn(), submitted), Finished)


def test_polls_are_http_200_and_classified_by_body(bp: Env, client: httpx.Client) -> None:
    submitted = bp.submit()
    running = bp.adapter.poll(bp.conn(), submitted.remote_id)
    missing = client.get(
        f"{bp.fake.url}/v1/images/tasks/nope", headers={"Authorization": f"Bearer {KEY}"}
    )

    assert isinstance(running, Running)
    assert (running.status, running.progress) == ("queued", 0)
    assert missing.status_code == 200
    assert bp.adapter.poll(bp.conn(), "nope").error.code == ErrorCode.NOT_FOUND
    finished = finish(bp.adapter, bp.conn(), submitted)
    assert (finished.images[0].width, finished.images[0].height) == (1792, 1024)


def test_succeeded_without_images_is_a_failure_that_was_charged(bp: Env) -> None:
    bp.fake.next_submit = "no_images"

    result = bp.run()

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.NO_IMAGES
    assert result.error.may_have_charged and not result.error.retryable
    assert result.raw["status"] == "succeeded"


def test_the_required_size_and_n_are_always_sent(bp: Env) -> None:
    bp.submit(GenerationRequest("text-to-image", "dall-e-3", "a cat"))

    assert bp.fake.bodies[0][1] == {
        "model": "dall-e-3",
        "prompt": "a cat",
        "size": "1024x1024",
        "n": 1,
    }


def test_the_operator_can_turn_async_off(bp: Env) -> None:
    result = bp.submit(options={"async": False})

    assert isinstance(result, Finished)
    assert [r.path for r in bp.fake.requests] == ["/v1/images/generations"]


def test_edits_are_multipart(bp: Env) -> None:
    refs = [Reference(data=png_bytes(), filename=f"{i}.png") for i in range(2)]
    req = GenerationRequest("image-to-image", "gpt-image-1", "merge them", {"n": 2}, refs)

    result = bp.submit(req)

    assert isinstance(result, Finished)
    assert [open_png(i.data).size for i in result.images] == [(1024, 1024)] * 2
    assert len(bp.fake.bodies[0][1]["files"]["image[]"]) == 2


def test_without_a_base_url_nothing_is_sent(bp: Env) -> None:
    result = bp.submit(base_url=None)

    assert result.error.code == ErrorCode.VENDOR_UNAVAILABLE
    assert "No base URL" in result.error.message and not result.error.may_have_charged
    assert bp.adapter.verify(bp.conn(base_url=None)).status == "unreachable"
    assert bp.fake.requests == []
