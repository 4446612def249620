"""The shared helpers: secret scrubbing, raw cleaning, Retry-After, URL joining, error mapping."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from studio.vendors.base import (
    ErrorCode,
    clean_raw,
    error_from_response,
    join_url,
    parse_retry_after,
    scrub,
)

SECRET = "sk-live-abcdef123456"


def test_scrub_removes_secrets_bearer_tokens_and_key_shapes() -> None:
    text = (
        f"bad key {SECRET}; header Authorization: Bearer eyJhbGciOi.x-y "
        "token sk-another-9999999 mgmt mt-zzzzzzzz; tail"
    )

    clean = scrub(text, [SECRET, None])

    assert SECRET not in clean and "eyJhbGciOi" not in clean
    assert "sk-another" not in clean and "mt-zzzzzzzz" not in clean
    assert clean.startswith("bad key [redacted];") and clean.endswith("; tail")


def test_clean_raw_replaces_base64_and_scrubs_nested_strings() -> None:
    payload = base64.b64encode(b"\x89PNG" + b"\0" * 3000).decode()
    raw = {
        "data": [{"b64_json": payload, "url": "https://cdn.example/a.png"}],
        "preview": "data:image/png;base64," + payload[:100],
        "blob": payload,
        "echo": {"header": f"Bearer {SECRET}"},
        "n": 1,
    }

    clean = clean_raw(raw, [SECRET])

    assert clean["data"][0] == {
        "b64_json": f"<base64 {len(payload)} chars>",
        "url": "https://cdn.example/a.png",
    }
    assert clean["preview"].startswith("<base64 ") and clean["blob"].startswith("<base64 ")
    assert clean["echo"] == {"header": "Bearer [redacted]"} and clean["n"] == 1


def test_retry_after_in_both_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("https://h.example", "/v1/images/generations", "https://h.example/v1/images/generations"),
        (
            "https://h.example/v1/",
            "/v1/images/generations",
            "https://h.example/v1/images/generations",
        ),
        ("https://h.example/relay", "/v1/x", "https://h.example/relay/v1/x"),
        ("https://h.example/relay/v1", "/v1/x", "https://h.example/relay/v1/x"),
        ("https://h.example/", "/api/v1/generate", "https://h.example/api/v1/generate"),
    ],
)
def test_join_url(base: str, path: str, url: str) -> None:
    assert join_url(base, path) == url


def reply(status: int, body: object = None, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", "https://vendor.example/v1/images/generations")
    if body is None:
        return httpx.Response(status, text="<html>oops</html>", headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("response", "code", "field"),
    [
        (
            reply(401, {"error": {"code": "unauthorized", "message": "Missing key"}}),
            ErrorCode.BAD_CREDENTIAL,
            None,
        ),
        (reply(402, {"error": {"message": "pay up"}}), ErrorCode.INSUFFICIENT_CREDITS, None),
        (
            reply(403, {"error": {"code": "insufficient_user_quota", "message": "quota"}}),
            ErrorCode.INSUFFICIENT_CREDITS,
            None,
        ),
        (
            reply(403, {"error": {"code": "insufficient_credits", "message": "no credits"}}),
            ErrorCode.INSUFFICIENT_CREDITS,
            None,
        ),
        (
            reply(429, {"error": {"code": "insufficient_quota", "message": "You exceeded"}}),
            ErrorCode.INSUFFICIENT_CREDITS,
            None,
        ),
        (
            reply(403, {"error": {"code": "forbidden", "message": "token disabled"}}),
            ErrorCode.BAD_CREDENTIAL,
            None,
        ),
        (
            reply(404, {"error": {"code": "async_task_not_found", "message": "gone"}}),
            ErrorCode.NOT_FOUND,
            None,
        ),
        (
            reply(400, {"error": {"code": "async_task_not_found", "message": "gone"}}),
            ErrorCode.NOT_FOUND,
            None,
        ),
        (
            reply(422, {"error": {"code": "invalid_params", "message": "prompt: too long"}}),
            ErrorCode.INVALID_PARAMS,
            "prompt",
        ),
        (
            reply(400, {"error": {"message": "bad", "param": "size", "type": "invalid_request"}}),
            ErrorCode.INVALID_PARAMS,
            "size",
        ),
        (
            reply(422, {"detail": [{"loc": ["body", "aspect_ratio"], "msg": "not allowed"}]}),
            ErrorCode.INVALID_PARAMS,
            "aspect_ratio",
        ),
        (
            reply(400, {"error": {"code": "moderation_blocked", "message": "safety system"}}),
            ErrorCode.CONTENT_POLICY,
            None,
        ),
        (
            reply(400, {"error": "Prompt violates our content policy"}),
            ErrorCode.CONTENT_POLICY,
            None,
        ),
        (reply(429, {"error": {"code": "rate_limit_exceeded"}}), ErrorCode.RATE_LIMITED, None),
        (reply(503, None), ErrorCode.VENDOR_UNAVAILABLE, None),
        (reply(418, {"error": "teapot"}), ErrorCode.UNEXPECTED_RESPONSE, None),
    ],
)
def test_error_mapping(response: httpx.Response, code: ErrorCode, field: str | None) -> None:
    error = error_from_response(response, stage="submit", label="Vendor", secrets=[])

    assert (error.code, error.field) == (code, field)
    assert error.message.endswith(".")


def test_retry_after_on_429_and_the_stage_on_5xx() -> None:
    limited = error_from_response(
        reply(429, {}, **{"Retry-After": "12"}), stage="poll", label="V", secrets=[]
    )
    on_submit = error_from_response(reply(500, {}), stage="submit", label="V", secrets=[])
    on_poll = error_from_response(reply(500, {}), stage="poll", label="V", secrets=[])

    assert (limited.retry_after, limited.retryable, limited.may_have_charged) == (12, True, False)
    assert (on_submit.retryable, on_submit.may_have_charged) == (False, True)
    assert (on_poll.retryable, on_poll.may_have_charged) == (True, False)


def test_vendor_words_are_quoted_scrubbed_and_short() -> None:
    body = {"error": {"message": f"token {SECRET} is invalid " + "x" * 1000}}

    error = error_from_response(reply(401, body), stage="submit", label="V", secrets=[SECRET])

    assert SECRET not in error.message
    assert "[redacted]" in error.message and len(error.message) < 400
