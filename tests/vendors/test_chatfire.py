from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from studio.vendors.base import Accepted, ErrorCode, Finished, GenerationRequest, Reference
from tests.vendors.conftest import Env, finish, make_env, open_png


@pytest.fixture
def fire(fakes, client: httpx.Client) -> Env:
    env = make_env("chatfire", fakes, client, file_ttl=1.0)
    env.fake.instant = True
    return env


def test_an_already_completed_reply_needs_no_poll(fire: Env, client: httpx.Client) -> None:
    result = fire.submit()

    assert isinstance(result, Finished)
    assert len(fire.fake.requests) == 1
    assert result.remote_id in fire.fake.tasks
    image = result.images[0]
    assert "/files/oss/" in image.url  # oss_url preferred over url
    assert (image.width, image.height, image.content_type) == (1024, 1024, "image/png")
    assert image.expires_at.tzinfo is UTC
    assert abs((image.expires_at - datetime.now(UTC)).total_seconds()) <= 1.5  # file_ttl 1 s


def test_result_urls_expire(fire: Env, client: httpx.Client) -> None:
    url = fire.submit().images[0].url

    assert client.get(url).status_code == 200
    time.sleep(1.1)
    assert client.get(url).status_code == 403


def test_base64_images(fire: Env) -> None:
    fire.fake.next_submit = "b64"

    result = fire.submit()

    assert open_png(result.images[0].data).size == (1024, 1024)
    assert result.images[0].url is None and result.images[0].expires_at is not None


def test_a_failed_reply_on_submit(fire: Env) -> None:
    fire.fake.next_submit = "content_policy"

    result = fire.submit()

    assert result.error.code == ErrorCode.CONTENT_POLICY
    assert len(fire.fake.requests) == 1


def test_the_operator_sets_the_poll_path(fire: Env) -> None:
    fire.fake.instant = False
    fire.fake.poll_path = "/v1/tasks/{task_id}"
    submitted = fire.submit()

    guessed = fire.adapter.poll(fire.conn(), submitted.remote_id)
    told = finish(fire.adapter, fire.conn(options={"poll_path": "/v1/tasks/{task_id}"}), submitted)

    assert isinstance(submitted, Accepted)
    assert guessed.error.code == ErrorCode.NOT_FOUND
    assert isinstance(told, Finished)


def test_image_to_image_sends_the_reference_as_the_vendors_clients_do(fire: Env) -> None:
    url = f"{fire.fake.url}/files/{fire.fake.store_png(64, 64, 'ref', 'ref')}"
    req = GenerationRequest("image-to-image", "jimeng", "in watercolour", {}, [Reference(url=url)])

    assert isinstance(fire.submit(req), Finished)
    body = fire.fake.bodies[0][1]
    # `image: [url, …]` as the vendor's own clients send it, and the documented `url`.
    assert body["image"] == [url] and body["url"] == url
    assert fire.fake.tasks[next(iter(fire.fake.tasks))].extra["references"] == 1
