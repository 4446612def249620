"""Adapter-level checks of the reply shapes seen beyond the doc excerpts (VENDORS.md, "What the
vendors really send"): key checks, error words and task fields, over loopback HTTP."""

from __future__ import annotations

import pytest

from studio.vendors.base import (
    Accepted,
    Call,
    ErrorCode,
    Failed,
    Finished,
    GenerationRequest,
    Running,
)
from studio.vendors.openai_style import find_images, progress_of, read_task
from tests.vendors.conftest import EMPTY_KEY, KEY, finish, make_env

RELAYS = ("aioagi", "chatbp")


@pytest.mark.parametrize("vendor", RELAYS)
def test_verify_on_a_used_up_new_api_key_says_the_credits_are_gone(vendor, fakes, client):
    env = make_env(vendor, fakes, client)
    env.fake.set(variant="newapi_401_exhausted")

    result = env.adapter.verify(env.conn(key=EMPTY_KEY))

    assert result.status == "no_credits", result.message
    assert "no credits left" in result.message
    assert result.balance is None


@pytest.mark.parametrize("vendor", RELAYS)
def test_a_used_up_key_is_not_called_invalid_on_submit(vendor, fakes, client):
    env = make_env(vendor, fakes, client)
    env.fake.set(variant="newapi_401_exhausted")

    result = env.submit(key=EMPTY_KEY)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.INSUFFICIENT_CREDITS
    assert not result.error.may_have_charged
    # A bad key stays a bad key under the same variant.
    assert env.submit(key="sk-test-unknown-9999").error.code == ErrorCode.BAD_CREDENTIAL


@pytest.mark.parametrize("vendor", RELAYS)
def test_an_unlimited_key_claims_no_balance(vendor, fakes, client):
    env = make_env(vendor, fakes, client)
    env.fake.add_key("sk-test-unlimited-1", 0, unlimited=True)
    env.fake.keys["sk-test-unlimited-1"].used = 13

    result = env.adapter.verify(env.conn(key="sk-test-unlimited-1"))

    assert result.status == "valid"
    assert result.balance is None
    assert "Unlimited: no balance reported" in result.message


@pytest.mark.parametrize(
    ("display", "unit"),
    [("USD", "USD"), ("CNY", "CNY"), ("TOKENS", "quota"), (None, "relay units")],
)
def test_a_relays_balance_is_labelled_in_the_unit_it_reports(display, unit, fakes, client):
    env = make_env("aioagi", fakes, client)
    env.fake.set(quota_display_type=display)

    result = env.adapter.verify(env.conn())

    assert (result.status, result.balance, result.unit) == ("valid", 10, unit)


def test_lemondatas_balance_is_usd_without_a_currency_field(fakes, client):
    env = make_env("lemondata", fakes, client)

    result = env.adapter.verify(env.conn())

    assert (result.balance, result.unit) == (10, "USD")


def test_new_apis_429_in_chinese_text_is_a_rate_limit(fakes, client):
    env = make_env("aioagi", fakes, client)
    env.fake.next_submit = "429_text"

    result = env.submit()

    assert result.error.code == ErrorCode.RATE_LIMITED
    assert result.error.retry_after is None and result.error.retryable


def test_new_apis_task_not_exist_is_not_found(fakes, client):
    env = make_env("chatbp", fakes, client)
    env.fake.set(variant="newapi_not_found")

    result = env.adapter.poll(env.conn(), "img_gone", None)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.NOT_FOUND
    assert not result.error.retryable


def test_model_not_allowed_names_the_model_field(fakes, client):
    env = make_env("lemondata", fakes, client)
    env.fake.next_submit = "model_not_allowed"

    result = env.submit()

    assert result.error.code == ErrorCode.INVALID_PARAMS
    assert result.error.field == "model"
    assert not result.error.may_have_charged


def test_chatbps_sub2api_tasks_report_string_progress(fakes, client):
    env = make_env("chatbp", fakes, client, pending_s=5, processing_s=5)
    env.fake.set(variant="sub2api")
    submitted = env.submit()

    polled = env.adapter.poll(env.conn(), submitted.remote_id, None)

    assert isinstance(polled, Running)
    assert (polled.status, polled.progress) == ("processing", 50)


def test_chatfire_falls_back_to_the_relay_poll_path_and_no_further(fakes, client):
    env = make_env("chatfire", fakes, client)
    env.fake.set(instant=False, poll_path="/v1/images/generations/{task_id}")
    submitted = env.submit()

    done = finish(env.adapter, env.conn(), submitted)
    gone = env.adapter.poll(env.conn(), "no-such-task", None)

    assert isinstance(done, Finished)
    assert isinstance(gone, Failed) and gone.error.code == ErrorCode.NOT_FOUND
    tried = [r.path for r in env.fake.requests if "no-such-task" in r.path]
    assert tried == ["/v1/images/task/no-such-task", "/v1/images/generations/no-such-task"]


@pytest.mark.parametrize(
    ("reply", "count"),
    [
        ({"data": [{"url": "https://x/1.png"}, {"url": "https://x/2.png"}]}, 2),
        ({"images": ["https://x/1.png"]}, 1),
        ({"images": [{"oss_url": "https://x/o.png", "url": "https://x/u.png"}]}, 1),
        ({"result": {"data": [{"url": "https://x/1.png"}]}, "image_url": "https://x/1.png"}, 1),
        ({"image_url": "https://x/1.png"}, 1),
        ({"data": [{"url": ""}]}, 0),
        ({"data": []}, 0),
    ],
)
def test_images_are_found_under_every_common_field(reply, count):
    assert len(find_images(reply)) == count


@pytest.mark.parametrize(
    ("reply", "percent"),
    [({"progress_pct": 40}, 40), ({"progress": "50%"}, 50), ({"progress": 0.25}, 25), ({}, None)],
)
def test_progress_in_every_spelling(reply, percent):
    assert progress_of(reply) == percent


class _Plain:
    label = "ChatFire"
    poll_interval = 5.0


def _call() -> Call:
    conn = type("Conn", (), {"api_key": KEY, "extra_secret": None})()
    return Call(_Plain(), conn, "poll")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ({"status": "completed", "result": {"data": [{"url": "https://x/1.png"}]}}, Finished),
        ({"code": "success", "data": {"status": "SUCCESS", "image_url": "https://x/1"}}, Finished),
        ({"status": "cancelled"}, Failed),
        ({"status": "failed", "cancelled": True}, Failed),
        ({"status": "failed", "cancellation_status": "cancelled"}, Failed),
        ({"status": "timeout"}, Failed),
        ({"status": "upscaling"}, Running),
        ({"status": "in_progress", "data": [{"url": "https://x/partial.png"}]}, Running),
    ],
)
def test_read_task_reads_each_state(reply, kind):
    assert isinstance(read_task(_Plain(), _call(), reply, "t-1"), kind)  # type: ignore[arg-type]


def test_a_submit_reply_with_nothing_usable_names_what_was_missing(fakes, client):
    env = make_env("chatfire", fakes, client)
    env.fake.set(variant="openai")
    req = GenerationRequest("text-to-image", "seedream-3.0", "a lighthouse [fake:no_images]")

    result = env.submit(req)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.UNEXPECTED_RESPONSE
    assert result.error.message.startswith(
        "ChatFire's reply had no status, no task id and no images."
    )
    assert result.error.may_have_charged
    assert result.raw == {"created": result.raw["created"], "data": []}


def test_lemondata_async_reply_named_only_by_its_poll_url(fakes, client):
    env = make_env("lemondata", fakes, client)
    env.fake.set(variant="poll_url_only")

    submitted = env.submit()

    assert isinstance(submitted, Accepted)
    assert submitted.poll_url == f"/v1/tasks/{submitted.remote_id}"
    assert isinstance(finish(env.adapter, env.conn(), submitted), Finished)
