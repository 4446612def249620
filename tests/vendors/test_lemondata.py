from __future__ import annotations

import httpx
import pytest

from studio.vendors.base import Accepted, ErrorCode, Finished, GenerationRequest
from tests.vendors.conftest import KEY, MGMT, Env, finish, image_bytes, make_env, open_png


@pytest.fixture
def lemon(fakes, client: httpx.Client) -> Env:
    return make_env("lemondata", fakes, client)


def dalle3(**params) -> GenerationRequest:
    return GenerationRequest("text-to-image", "dall-e-3", "a lemon", params)


def test_sync_models_finish_on_submit(lemon: Env, client: httpx.Client) -> None:
    result = lemon.submit(dalle3(size="1792x1024", quality="hd", style="natural"))

    assert isinstance(result, Finished)
    assert open_png(image_bytes(client, result)[0]).size == (1792, 1024)
    assert lemon.fake.bodies[0][1] == {
        "model": "dall-e-3",
        "prompt": "a lemon",
        "size": "1792x1024",
        "quality": "hd",
        "style": "natural",
    }


def test_base64_replies_are_decoded(lemon: Env) -> None:
    sync = lemon.submit(dalle3(response_format="b64_json"))
    later = lemon.run(
        GenerationRequest(
            "text-to-image", "midjourney", "a lemon", {"response_format": "b64_json", "n": 2}
        )
    )

    assert open_png(sync.images[0].data).size == (1024, 1024)
    assert [open_png(i.data).size for i in later.images] == [(1024, 1024)] * 2
    assert all(d["b64_json"].startswith("<base64 ") for d in later.raw["data"])


@pytest.mark.parametrize(
    ("style", "path"),
    [
        ("generations", "/v1/images/generations/"),
        ("tasks", "/v1/tasks/"),
        ("absolute", "/v1/tasks/"),
    ],
)
def test_the_poll_url_is_followed_as_given(lemon: Env, style: str, path: str) -> None:
    lemon.fake.poll_url_style = style

    submitted = lemon.submit()
    result = finish(lemon.adapter, lemon.conn(), submitted)

    assert isinstance(result, Finished)
    polls = [r.path for r in lemon.fake.requests if r.method == "GET" and "/files/" not in r.path]
    assert polls and set(polls) == {path + submitted.remote_id}


def test_a_poll_url_on_a_base_ending_in_v1_is_not_doubled(lemon: Env) -> None:
    lemon.fake.poll_url_style = "tasks"

    result = lemon.run(base_url=lemon.fake.url + "/v1")

    assert isinstance(result, Finished)
    assert not any("/v1/v1/" in r.path for r in lemon.fake.requests)


def test_a_poll_url_on_another_host_never_gets_the_key(lemon: Env, fakes) -> None:
    elsewhere = fakes("lemondata")
    submitted = lemon.submit()

    result = finish(
        lemon.adapter,
        lemon.conn(),
        Accepted(submitted.remote_id, f"{elsewhere.url}/v1/tasks/{submitted.remote_id}"),
    )

    assert isinstance(result, Finished)
    assert elsewhere.requests == []


def test_a_task_that_is_gone(lemon: Env) -> None:
    result = lemon.adapter.poll(lemon.conn(), "expired", "/v1/images/generations/expired")

    assert result.error.code == ErrorCode.NOT_FOUND
    assert "Task not found or expired" in result.error.message
    assert result.raw["error"]["code"] == "async_task_not_found"


def test_the_real_rate_limit_sends_retry_after_and_ratelimit_headers(
    lemon: Env, client: httpx.Client
) -> None:
    lemon.fake.rate_limit = (2, 60.0)
    lemon.submit(dalle3())
    lemon.submit(dalle3())

    limited = lemon.submit(dalle3())
    raw = client.get(
        f"{lemon.fake.url}/v1/images/generations/x", headers={"Authorization": f"Bearer {KEY}"}
    )

    assert limited.error.code == ErrorCode.RATE_LIMITED
    assert limited.error.retry_after == pytest.approx(60, abs=2)
    assert raw.status_code == 429
    assert raw.headers["X-RateLimit-Limit"] == "2" and raw.headers["X-RateLimit-Remaining"] == "0"
    assert int(raw.headers["Retry-After"]) > 0


def test_the_balance_needs_the_management_token(lemon: Env) -> None:
    with_token = lemon.adapter.verify(lemon.conn())
    without = lemon.adapter.verify(lemon.conn(extra_secret=None))
    wrong = lemon.adapter.verify(lemon.conn(extra_secret="mt-test-wrong-000000"))

    assert (with_token.status, with_token.balance, with_token.unit) == ("valid", 10, "USD")
    assert (without.status, without.balance) == ("valid", None)
    assert wrong.status == "valid" and "management token" in wrong.message
    assert "mt-test-wrong-000000" not in wrong.message
    balance_calls = [r for r in lemon.fake.requests if r.path == "/v1/management/balance"]
    assert [r.key for r in balance_calls] == [MGMT, "mt-test-wrong-000000"]
