"""Vendor faults and bad results: each ends in a clear state, nothing lost, no second paid POST."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from studio.engine import jobs, ratelimit, store
from studio.engine.services import cancel_generation, create_generation
from studio.models import Generation, RateBudget
from studio.vendors.base import ImageSource
from tests.engine.conftest import KEY, credential, drive

pytestmark = pytest.mark.django_db(transaction=True)
Status = Generation.Status


def girl(alice, prompt="a lighthouse"):
    return create_generation(
        alice,
        vendor="girlgenerator",
        credential=credential(alice, "girlgenerator"),
        model="default",
        prompt=prompt,
    )


def posts(fake):
    return [r for r in fake.requests if r.method == "POST"]


def test_a_read_timeout_after_sending_is_an_unknown_outcome_never_resent(alice, start_fake):
    fake = start_fake("aioagi", stall_s=1.0)
    fake.next_submit = "read_timeout"
    generation = create_generation(
        alice,
        vendor="aioagi",
        credential=credential(alice, "aioagi"),
        model="gpt-image-2",
        prompt="a lighthouse",
    )
    # A short read timeout, as if the vendor took longer than we wait.
    from studio.vendors.aioagi import Aioagi

    original = Aioagi.sync_read_timeout
    Aioagi.sync_read_timeout = 0.3
    try:
        generation = drive(generation)
    finally:
        Aioagi.sync_read_timeout = original
    assert generation.status == Status.UNKNOWN_OUTCOME
    assert generation.may_have_charged
    assert "not sent again" in generation.error_message
    # A redelivered task, or the recovery sweep, sends nothing more.
    jobs.submit(generation.pk)
    from studio.engine.recovery import recover_generations

    recover_generations()
    assert len(posts(fake)) == 1


@pytest.mark.parametrize("scenario", ["500", "disconnect", "malformed"])
def test_a_submit_that_may_have_reached_the_vendor_is_not_resent(scenario, alice, start_fake):
    fake = start_fake("girlgenerator")
    fake.next_submit = scenario
    generation = drive(girl(alice))
    assert generation.status == Status.UNKNOWN_OUTCOME, generation.error_message
    assert generation.may_have_charged
    assert len(posts(fake)) == 1


def test_a_connect_error_before_sending_is_retried_safely(alice, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    settings.STUDIO_VENDOR_URLS = {"girlgenerator": f"http://127.0.0.1:{closed}"}
    generation = girl(alice)
    jobs.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert generation.submit_attempts == 1
    assert generation.submitted_at is None
    assert generation.next_poll_at > timezone.now()
    # After the bounded number of attempts it fails, clearly, without an unknown outcome.
    for _ in range(jobs.MAX_SUBMIT_ATTEMPTS):
        Generation.objects.filter(pk=generation.pk).update(next_poll_at=None)
        jobs.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == "vendor_unavailable"
    assert not generation.may_have_charged


@pytest.mark.parametrize("scenario", ["429_seconds", "429_date", "429"])
def test_a_429_on_submit_blocks_the_key_and_requeues(scenario, alice, start_fake):
    fake = start_fake("lemondata")
    fake.next_submit = scenario
    generation = create_generation(
        alice,
        vendor="lemondata",
        credential=credential(alice, "lemondata"),
        model="dall-e-3",
        prompt="a lighthouse",
    )
    jobs.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert generation.submitted_at is None
    budget = RateBudget.objects.get(bucket=jobs.bucket_for(generation))
    assert budget.blocked_until > timezone.now()
    # Every process sees the block.
    assert ratelimit.try_acquire(jobs.bucket_for(generation), None, 60) > 0
    # Once the block passes, the job goes through.
    RateBudget.objects.update(blocked_until=None)
    generation = drive(generation)
    assert generation.status == Status.SUCCEEDED
    assert len(posts(fake)) == 2  # the refused one and the accepted one


@pytest.mark.parametrize(
    "scenario, code",
    [("content_policy", "content_policy"), ("no_images", "no_images")],
)
def test_a_failure_after_acceptance_is_failed_and_may_have_charged(
    scenario, code, alice, start_fake
):
    start_fake("chatbp")
    generation = create_generation(
        alice,
        vendor="chatbp",
        credential=credential(alice, "chatbp"),
        model="dall-e-3",
        prompt=f"a lighthouse [fake:{scenario}]",
        params={"size": "1024x1024"},
    )
    generation = drive(generation)
    assert generation.status == Status.FAILED
    assert generation.error_code == code
    assert generation.may_have_charged
    assert generation.error_message


def test_bad_key_fails_clearly_and_marks_the_credential(alice, start_fake):
    start_fake("girlgenerator")
    cred = credential(alice, "girlgenerator", key="sk-not-known-to-vendor")
    generation = create_generation(
        alice, vendor="girlgenerator", credential=cred, model="default", prompt="x"
    )
    generation = drive(generation)
    assert generation.status == Status.FAILED
    assert generation.error_code == "bad_credential"
    cred.refresh_from_db()
    assert cred.status == "failed"


def test_insufficient_credits_fails_without_charging(alice, start_fake):
    start_fake("girlgenerator", credits=0)
    generation = drive(girl(alice))
    assert generation.status == Status.FAILED
    assert generation.error_code == "insufficient_credits"
    assert not generation.may_have_charged


def test_an_unknown_status_keeps_the_job_running_until_its_deadline(alice, start_fake):
    fake = start_fake("chatfire")
    fake.set(pending_s=60, instant=False)
    generation = create_generation(
        alice,
        vendor="chatfire",
        credential=credential(alice, "chatfire"),
        model="seedream-3.0",
        prompt="a lighthouse [fake:unknown_status]",
    )
    jobs.submit(generation.pk)
    from studio.engine.poller import poll_due_generations

    poll_due_generations(pass_seconds=0.5)
    generation.refresh_from_db()
    assert generation.status == Status.RUNNING
    assert generation.polls >= 1
    Generation.objects.filter(pk=generation.pk).update(deadline=timezone.now())
    generation = drive(generation)
    assert generation.status == Status.EXPIRED
    assert "deadline" in generation.error_message


def test_an_expired_result_url_is_polled_once_more(alice, start_fake):
    fake = start_fake("girlgenerator", file_ttl=0.0)
    generation = drive(girl(alice))
    assert generation.redownloads == 1
    assert generation.status == Status.FAILED
    assert generation.error_code == "result_lost"
    assert "403" in generation.error_message
    assert len(posts(fake)) == 1


def downloading(alice):
    generation = create_generation(alice, vendor="demo", model="demo", prompt="x")
    Generation.objects.filter(pk=generation.pk).update(status=Status.DOWNLOADING)
    generation.refresh_from_db()
    return generation


@pytest.mark.parametrize(
    "source, reason",
    [
        (ImageSource(data=b"<html>not an image</html>"), "not a valid PNG"),
        (ImageSource(url="http://169.254.169.254/latest/meta-data/"), "private address"),
        (ImageSource(url="http://127.0.0.1:9/secret.png"), "private address"),
        (ImageSource(url="file:///etc/passwd"), "not a valid http"),
    ],
)
def test_a_bad_result_fails_the_job_with_the_reason(source, reason, alice):
    generation = downloading(alice)
    store.store_results(generation, [source])
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == "result_lost"
    assert reason in generation.error_message
    assert generation.images.count() == 0


def test_a_queued_job_is_canceled_at_once_and_never_sent(alice, start_fake):
    fake = start_fake("girlgenerator")
    generation = girl(alice)
    assert cancel_generation(generation)
    jobs.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.CANCELED
    assert not generation.may_have_charged
    assert posts(fake) == []


def test_a_running_job_is_canceled_and_stops_being_polled(alice, start_fake):
    fake = start_fake("girlgenerator")
    fake.set(pending_s=60)
    generation = girl(alice)
    jobs.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.RUNNING
    assert cancel_generation(generation)
    generation.refresh_from_db()
    assert generation.status == Status.CANCELED
    assert generation.may_have_charged
    assert "may still charge" in generation.error_message
    from studio.engine.poller import poll_due_generations

    before = len(fake.requests)
    poll_due_generations(pass_seconds=0.3)
    assert len(fake.requests) == before


def test_a_revoked_key_is_not_used(alice, start_fake):
    from accounts.models import CredentialEvent
    from accounts.vault import revoke_credential

    fake = start_fake("girlgenerator")
    generation = girl(alice)
    revoke_credential(generation.credential)
    generation = drive(generation)
    assert generation.status == Status.FAILED
    assert "revoked" in generation.error_message
    assert posts(fake) == []
    assert CredentialEvent.objects.filter(kind="used_after_revocation").exists()


def test_submit_is_deferred_when_the_key_has_no_budget(alice, start_fake):
    fake = start_fake("girlgenerator")
    generation = girl(alice)
    bucket = jobs.bucket_for(generation)
    for _ in range(10):
        assert ratelimit.try_acquire(bucket, 10, 60) == 0
    jobs.submit(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert generation.next_poll_at > timezone.now() + timedelta(seconds=50)
    assert posts(fake) == []


def test_the_key_never_reaches_the_job_even_when_the_vendor_echoes_it(alice, start_fake):
    fake = start_fake("girlgenerator")
    fake.next_submit = "echo_auth"
    generation = drive(girl(alice))
    assert generation.status in (Status.FAILED, Status.UNKNOWN_OUTCOME)
    stored = f"{generation.error_message} {generation.raw_reply}"
    assert KEY not in stored
    assert KEY[-10:] not in stored
