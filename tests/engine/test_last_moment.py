"""A 429's block stops requests that were granted before it but had not left yet.

A worker takes a slot from the key's budget, then decrypts the key and builds the request; a
poll thread is handed a granted job and sends it a moment later. If another worker records a
429's block in between, the vendor must not see that request: it is deferred until the block
ends, never counted as sent, never as possibly charged.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone

from studio.engine import jobs, ratelimit
from studio.engine.services import create_generation
from studio.models import Generation, RateBudget
from tests.engine.conftest import credential

pytestmark = pytest.mark.django_db(transaction=True)
Status = Generation.Status


def relay_job(user, key, prompt):
    return create_generation(
        user,
        vendor="chatbp",
        credential=key,
        model="dall-e-3",
        prompt=prompt,
        params={"size": "1024x1024"},
    )


def sent_by(fake, method, path_part=""):
    return [r for r in fake.requests if r.method == method and path_part in r.path]


def test_a_granted_submit_is_not_sent_after_another_worker_records_a_429(alice, start_fake):
    fake = start_fake("chatbp")  # a relay with no documented limit
    key = credential(alice, "chatbp")
    refused = relay_job(alice, key, "refused [fake:429_seconds]")
    granted = relay_job(alice, key, "granted before the block")
    blocked = threading.Event()

    build_request = jobs.build_request

    def slow_build(generation):
        # The granted job has its slot and is about to send when the other worker's 429 lands.
        if generation.pk == granted.pk:
            assert blocked.wait(10)
        return build_request(generation)

    def other_worker():
        jobs.submit(refused.pk)  # the vendor answers 429 with Retry-After: 7
        blocked.set()
        connection.close()

    jobs.build_request = slow_build
    try:
        thread = threading.Thread(target=other_worker)
        thread.start()
        jobs.submit(granted.pk)
        thread.join(10)
    finally:
        jobs.build_request = build_request

    assert RateBudget.objects.get(bucket=jobs.bucket_for(granted)).blocked_until > timezone.now()
    # Only the refused request reached the vendor.
    assert len(sent_by(fake, "POST")) == 1
    granted.refresh_from_db()
    assert granted.status == Status.QUEUED
    assert granted.submitted_at is None
    assert granted.submit_attempts == 0
    assert not granted.may_have_charged
    assert granted.error_code == ""
    # It goes when the block ends, not before.
    wait = (granted.next_poll_at - timezone.now()).total_seconds()
    assert 5 < wait <= 7


def test_a_granted_poll_is_not_sent_after_a_429_blocked_the_key(alice, start_fake):
    fake = start_fake("chatbp", pending_s=60)
    key = credential(alice, "chatbp")
    running = relay_job(alice, key, "in flight")
    jobs.submit(running.pk)
    running.refresh_from_db()
    assert running.status == Status.RUNNING
    polls_before = running.polls

    # Another worker's submit is refused with Retry-After: 7 …
    jobs.submit(relay_job(alice, key, "refused [fake:429_seconds]").pk)
    # … after the poller had granted this job's poll (jobs.poll is what its thread then runs).
    with jobs.vendor_client() as client:
        jobs.poll(running, client)

    assert sent_by(fake, "GET", running.remote_id) == []
    running.refresh_from_db()
    assert running.status == Status.RUNNING
    assert running.polls == polls_before
    assert running.poll_errors == 0
    wait = (running.next_poll_at - timezone.now()).total_seconds()
    assert 5 < wait <= 7


def test_the_block_check_costs_one_read_and_stops_only_engine_calls(django_assert_num_queries):
    RateBudget.objects.create(bucket="chatbp:abc")
    with ratelimit.sending_for("chatbp:abc"), django_assert_num_queries(1):
        ratelimit.check_before_send(None)
    ratelimit.block("chatbp:abc", 5)
    with ratelimit.sending_for("chatbp:abc"), pytest.raises(ratelimit.Blocked) as stopped:
        ratelimit.check_before_send(None)
    assert 4 < stopped.value.seconds <= 5
    # Outside an engine call (a key check from the web, a download) nothing is checked.
    ratelimit.check_before_send(None)


def test_a_blocked_request_escapes_the_adapter_unmapped():
    """Adapters map httpx errors to "may have reached the vendor"; `Blocked` must not be one."""
    import httpx

    from studio.vendors import get_adapter
    from studio.vendors.base import Connection, GenerationRequest

    def blocked(request):
        raise ratelimit.Blocked(3)

    client = httpx.Client(event_hooks={"request": [blocked]})
    conn = Connection(base_url="http://127.0.0.1:9", api_key="sk-test-123456", client=client)
    request = GenerationRequest(
        scene="text-to-image", model="dall-e-3", prompt="p", params={"size": "1024x1024"}
    )
    adapter = get_adapter("chatbp")
    with pytest.raises(ratelimit.Blocked):
        adapter.submit(conn, request)
    with pytest.raises(ratelimit.Blocked):
        adapter.poll(conn, "task-1")
