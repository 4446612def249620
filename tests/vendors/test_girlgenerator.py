from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from studio.vendors.base import Accepted, ErrorCode, Failed, GenerationRequest, Reference
from studio.vendors.girlgenerator import GirlGenerator
from tests.vendors.conftest import KEY, Env, make_env


@pytest.fixture
def gg(fakes, client: httpx.Client) -> Env:
    return make_env("girlgenerator", fakes, client)


def test_it_reports_credits_on_submit(gg: Env) -> None:
    result = gg.submit()

    assert isinstance(result, Accepted)
    assert result.spend.credits_used == Decimal(1)
    assert result.spend.credits_remaining == Decimal(9)
    assert gg.fake.balance(KEY) == Decimal(9)


def test_ten_requests_a_minute_per_key_polls_included(gg: Env) -> None:
    submitted = gg.submit()
    polls = [gg.adapter.poll(gg.conn(), submitted.remote_id) for _ in range(10)]

    assert not any(isinstance(p, Failed) for p in polls[:9])
    limited = polls[9]
    assert isinstance(limited, Failed)
    assert limited.error.code == ErrorCode.RATE_LIMITED
    assert limited.error.retry_after is None  # the vendor sends no Retry-After
    assert limited.error.retryable
    gg.fake.add_key("sk-test-other-key", 5)
    other = gg.adapter.poll(gg.conn(key="sk-test-other-key"), "no-such-task")
    assert other.error.code == ErrorCode.NOT_FOUND  # another key has its own budget
    window = [r for r in gg.fake.requests if r.key == KEY]
    assert len(window) == 11 and window[-1].time - window[0].time < 60


def test_the_window_slides(gg: Env) -> None:
    gg.fake.rate_limit = (2, 1.0)
    assert gg.adapter.verify(gg.conn()).status == "valid"
    assert gg.adapter.verify(gg.conn()).status == "valid"
    assert gg.adapter.verify(gg.conn()).status == "unknown"  # rate limited
    time.sleep(max(0.0, gg.fake.requests[0].time + 1.05 - time.time()))
    assert gg.adapter.verify(gg.conn()).status == "valid"


def test_image_to_image_sends_reference_urls_the_vendor_downloads(gg: Env) -> None:
    url = f"{gg.fake.url}/files/{gg.fake.store_png(64, 64, 'ref', 'ref')}"
    req = GenerationRequest(
        "image-to-image", "default", "make it blue", {}, [Reference(url=url, data=b"unused")]
    )

    assert isinstance(gg.submit(req), Accepted)
    assert gg.fake.bodies[-1][1]["image_input"] == [url]
    downloads = [r for r in gg.fake.requests if r.path.startswith("/files/")]
    assert len(downloads) == 1 and downloads[0].key is None  # fetched by the "vendor"


def test_an_unreachable_reference_is_the_vendors_invalid_params(gg: Env) -> None:
    req = GenerationRequest(
        "image-to-image",
        "default",
        "make it blue",
        {},
        [Reference(url=f"{gg.fake.url}/files/missing.png")],
    )

    result = gg.submit(req)

    assert result.error.code == ErrorCode.INVALID_PARAMS
    assert result.error.field == "image_input"


def test_another_users_task_is_not_found(gg: Env) -> None:
    submitted = gg.submit()
    gg.fake.add_key("sk-test-other-key", 5)

    result = gg.adapter.poll(gg.conn(key="sk-test-other-key"), submitted.remote_id)

    assert result.error.code == ErrorCode.NOT_FOUND


def test_polling_one_job_fits_the_rate_limit() -> None:
    requests, seconds = GirlGenerator.rate_limit
    assert 60 / GirlGenerator.poll_interval + 1 <= requests * 60 / seconds
