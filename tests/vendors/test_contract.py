"""Every adapter against its fake, over loopback HTTP, through the scenarios all vendors share."""

from __future__ import annotations

import json

import httpx
import pytest

from studio.vendors.base import Accepted, ErrorCode, Failed, Finished, Running
from tests.vendors.conftest import (
    EMPTY_KEY,
    EMPTY_MGMT,
    KEY,
    MGMT,
    Env,
    closed_port,
    finish,
    image_bytes,
    open_png,
)


def leaked(result: object, *secrets: str) -> bool:
    text = json.dumps(getattr(result, "raw", None), default=str) + repr(result)
    return any(secret in text for secret in secrets)


def test_it_generates_images_that_can_be_downloaded(env: Env, client: httpx.Client) -> None:
    submitted = env.submit()
    assert isinstance(submitted, Accepted) is env.profile.is_async

    finished = finish(env.adapter, env.conn(), submitted)

    assert isinstance(finished, Finished), finished
    n = env.profile.request.params.get("n", 1)
    images = [open_png(data) for data in image_bytes(client, finished)]
    assert [image.size for image in images] == [env.profile.size] * n
    assert finished.spend is not None and finished.spend.images == n
    json.dumps(finished.raw)  # storable as it is
    first, *rest = env.fake.requests
    polls = [r for r in rest if not r.path.startswith("/files/")]
    assert (first.method, first.path, first.key) == ("POST", env.profile.submit_path, KEY)
    assert len(env.submits()) == 1
    if env.profile.poll_prefix:
        assert polls and all(p.path == env.profile.poll_prefix + submitted.remote_id for p in polls)


def test_a_bad_key_is_a_bad_credential(env: Env) -> None:
    result = env.submit(key="sk-test-unknown-9999")

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.BAD_CREDENTIAL
    assert not result.error.retryable and not result.error.may_have_charged
    assert not leaked(result, "sk-test-unknown-9999")
    assert len(env.fake.requests) == 1


def test_an_empty_balance_is_insufficient_credits(env: Env) -> None:
    result = env.submit(key=EMPTY_KEY)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.INSUFFICIENT_CREDITS
    assert not result.error.retryable and not result.error.may_have_charged
    assert env.fake.balance(EMPTY_KEY) == 0


def test_validate_rejects_before_any_request(env: Env) -> None:
    assert env.profile.invalid_field in env.adapter.validate(env.profile.invalid)
    assert env.adapter.validate(env.profile.request) == {}

    result = env.submit(env.profile.invalid)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.INVALID_PARAMS
    assert result.error.field == env.profile.invalid_field
    assert env.fake.requests == []


def test_the_vendors_own_rejection_names_the_field(env: Env) -> None:
    # An adapter whose validation lets everything through meets the fake's validation.
    lax = type(env.adapter)()
    lax.validate = lambda req: {}  # type: ignore[method-assign]

    result = lax.submit(env.conn(), env.profile.invalid)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.INVALID_PARAMS
    assert result.error.field == env.profile.invalid_field
    assert not result.error.may_have_charged
    assert env.fake.balance(KEY) == 10


def test_a_rejection_that_validate_cannot_foresee(env: Env) -> None:
    env.fake.next_submit = "invalid_params"

    result = env.submit()

    assert result.error.code == ErrorCode.INVALID_PARAMS
    assert result.error.field == "prompt"
    assert "does not accept" in result.error.message
    assert not result.error.may_have_charged and not result.error.retryable


def test_a_content_policy_refusal(env: Env) -> None:
    env.fake.next_submit = "content_policy"

    result = env.run()

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.CONTENT_POLICY
    assert not result.error.retryable
    assert "content policy" in result.error.message


def test_an_unknown_task_is_not_found(env: Env) -> None:
    result = env.adapter.poll(env.conn(), "no-such-task", None)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.NOT_FOUND
    assert not result.error.retryable


@pytest.mark.parametrize(
    ("scenario", "retry_after"), [("429", None), ("429_seconds", 7.0), ("429_date", 7.0)]
)
def test_rate_limited_with_and_without_retry_after(
    env: Env, scenario: str, retry_after: float | None
) -> None:
    env.fake.next_submit = scenario
    if env.vendor == "lemondata":
        retry_after = 7.0  # LemonData always sends Retry-After

    result = env.submit()

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.RATE_LIMITED
    assert result.error.retryable and not result.error.may_have_charged
    if retry_after is None:
        assert result.error.retry_after is None
    else:
        assert result.error.retry_after == pytest.approx(retry_after, abs=1.5)


@pytest.mark.parametrize("scenario", ["500", "502_html"])
def test_a_server_error_on_submit_may_have_charged(env: Env, scenario: str) -> None:
    env.fake.next_submit = scenario

    result = env.submit()

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.VENDOR_UNAVAILABLE
    assert result.error.may_have_charged and not result.error.retryable
    assert len(env.submits()) == 1


def test_a_server_error_on_poll_is_retried(async_env: Env) -> None:
    env = async_env
    submitted = env.submit()
    env.fake.next_poll = "500"

    result = env.adapter.poll(env.conn(), submitted.remote_id, submitted.poll_url)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.VENDOR_UNAVAILABLE
    assert result.error.retryable and not result.error.may_have_charged
    assert isinstance(finish(env.adapter, env.conn(), submitted), Finished)


def test_a_connect_error_was_never_sent(env: Env) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"

    submitted = env.submit(base_url=dead)
    polled = env.adapter.poll(env.conn(base_url=dead), "task-1", None)

    assert isinstance(submitted, Failed)
    assert submitted.error.code == ErrorCode.VENDOR_UNAVAILABLE
    assert submitted.error.retryable and not submitted.error.may_have_charged
    if env.profile.is_async:
        assert polled.error.code == ErrorCode.VENDOR_UNAVAILABLE and polled.error.retryable


@pytest.mark.parametrize("scenario", ["read_timeout", "disconnect"])
def test_losing_the_answer_after_sending_may_have_charged(env: Env, scenario: str) -> None:
    env.fake.next_submit = scenario
    quick = httpx.Client(trust_env=False, timeout=0.3)

    result = env.submit(client=quick, options={"read_timeout": 0.3})

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.VENDOR_UNAVAILABLE
    assert result.error.may_have_charged and not result.error.retryable
    assert len(env.submits()) == 1
    assert env.fake.balance(KEY) < 10  # the vendor did take the money


def test_a_malformed_submit_reply_may_have_charged(env: Env) -> None:
    env.fake.next_submit = "malformed"

    result = env.submit()

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.UNEXPECTED_RESPONSE
    assert result.error.may_have_charged and not result.error.retryable
    assert '"status": "pend' in result.raw["text"]


def test_a_malformed_poll_reply_is_retried(async_env: Env) -> None:
    env = async_env
    submitted = env.submit()
    env.fake.next_poll = "malformed"

    result = env.adapter.poll(env.conn(), submitted.remote_id, submitted.poll_url)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.UNEXPECTED_RESPONSE
    assert result.error.retryable and not result.error.may_have_charged


def test_an_unknown_status_keeps_the_job_running(async_env: Env) -> None:
    env = async_env
    submitted = env.submit()
    env.fake.next_poll = "unknown_status"

    result = env.adapter.poll(env.conn(), submitted.remote_id, submitted.poll_url)

    assert isinstance(result, Running)
    assert result.status == "upscaling"
    assert isinstance(finish(env.adapter, env.conn(), submitted), Finished)


@pytest.mark.parametrize("stage", ["submit", "poll", "verify"])
def test_secrets_echoed_by_the_vendor_never_leak(env: Env, stage: str) -> None:
    setattr(env.fake, f"next_{stage}", "echo_auth")
    if stage == "verify":
        env.fake.next_poll = "echo_auth"  # some vendors' key check is a poll
    if stage == "submit":
        result = env.submit()
    elif stage == "poll":
        if not env.profile.is_async:
            pytest.skip("no polls")
        result = env.adapter.poll(env.conn(), "task-1", None)
    else:
        result = env.adapter.verify(env.conn())

    if stage == "verify":
        assert result.status == "invalid_key"
    else:
        assert isinstance(result, Failed)
        assert result.error.code == ErrorCode.BAD_CREDENTIAL
        assert "[redacted]" in json.dumps(result.raw)  # the echo was there, and scrubbed
    assert not leaked(result, KEY, MGMT, f"Bearer {KEY[:6]}")


BALANCES = {"girlgenerator": None, "aioagi": 10, "lemondata": 10, "chatbp": 10, "chatfire": None}


def test_verify_a_good_key_spends_nothing(env: Env) -> None:
    result = env.adapter.verify(env.conn())

    assert result.status == "valid", result.message
    assert result.balance == BALANCES[env.vendor]
    assert env.submits() == []
    assert env.fake.balance(KEY) == 10


def test_verify_a_bad_key(env: Env) -> None:
    result = env.adapter.verify(env.conn(key="sk-test-unknown-9999", extra_secret=None))

    assert result.status == "invalid_key"
    assert "sk-test-unknown-9999" not in result.message


def test_verify_an_empty_account(env: Env) -> None:
    result = env.adapter.verify(env.conn(key=EMPTY_KEY, extra_secret=EMPTY_MGMT))

    # Without a balance endpoint an empty account cannot be told from a full one.
    expected = "valid" if BALANCES[env.vendor] is None else "no_credits"
    assert result.status == expected
    assert env.submits() == []


def test_verify_an_unreachable_vendor(env: Env) -> None:
    result = env.adapter.verify(env.conn(base_url=f"http://127.0.0.1:{closed_port()}"))

    assert result.status == "unreachable"
