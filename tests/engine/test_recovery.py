from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from studio.engine import jobs, ledger, store
from studio.engine.images import process
from studio.engine.poller import (
    acquire_lease,
    expire_overdue,
    poll_due_generations,
    release_lease,
)
from studio.engine.recovery import recover_generations
from studio.engine.services import create_generation, submit_again
from studio.models import CreditEntry, Generation, Lease
from studio.vendors.base import ImageSource, Spend
from studio.vendors.demo import render_png
from tests.engine.conftest import credential, drive, drop_queued_tasks, queued_tasks

pytestmark = pytest.mark.django_db(transaction=True)
Status = Generation.Status
PAST = timedelta(seconds=-1)


def demo(alice, **fields):
    generation = create_generation(alice, vendor="demo", model="demo", prompt="a fox")
    if fields:
        Generation.objects.filter(pk=generation.pk).update(**fields)
        generation.refresh_from_db()
    return generation


def queued_submits() -> int:
    return sum(
        1 for task in queued_tasks() if task.func() == "studio.engine.tasks.submit_generation"
    )


def test_creating_a_job_enqueues_its_submit_in_the_same_transaction(alice):
    before = queued_submits()
    generation = demo(alice)
    assert generation.status == Status.QUEUED
    assert queued_submits() == before + 1
    task = next(t for t in queued_tasks() if t.func() == "studio.engine.tasks.submit_generation")
    assert task.task["args"] == (generation.pk,)  # only the id travels in the queue


def test_an_invalid_job_is_refused_before_anything_is_stored(alice):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        create_generation(alice, vendor="demo", model="demo", prompt="x", params={"n": 9})
    assert "n" in caught.value.message_dict
    assert not Generation.objects.exists()


def test_a_submit_claimed_by_a_dead_worker_before_sending_is_queued_again(alice):
    generation = demo(alice, status=Status.SUBMITTING, lease_until=timezone.now() + PAST)
    recover_generations()
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert drive(generation).status == Status.SUCCEEDED


def test_a_submit_that_may_have_been_sent_becomes_an_unknown_outcome(alice):
    generation = demo(
        alice,
        status=Status.SUBMITTING,
        submitted_at=timezone.now(),
        lease_until=timezone.now() + PAST,
    )
    recover_generations()
    generation.refresh_from_db()
    assert generation.status == Status.UNKNOWN_OUTCOME
    assert generation.may_have_charged
    assert "was not sent again" in generation.error_message


def test_a_live_submit_is_left_alone(alice):
    generation = demo(
        alice, status=Status.SUBMITTING, lease_until=timezone.now() + timedelta(minutes=1)
    )
    recover_generations()
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTING


def test_a_lost_submit_task_is_enqueued_again(alice):
    generation = demo(alice, lease_until=timezone.now() + PAST)
    drop_queued_tasks()
    recover_generations()
    assert queued_submits() == 1
    assert drive(generation).status == Status.SUCCEEDED


def test_a_duplicated_submit_task_does_nothing(alice, start_fake):
    fake = start_fake("girlgenerator")
    generation = create_generation(
        alice,
        vendor="girlgenerator",
        credential=credential(alice, "girlgenerator"),
        model="default",
        prompt="x",
    )
    jobs.submit(generation.pk)
    jobs.submit(generation.pk)
    assert len([r for r in fake.requests if r.method == "POST"]) == 1


def test_overdue_jobs_expire(alice):
    generation = demo(alice, deadline=timezone.now() + PAST)
    recover_generations()
    generation.refresh_from_db()
    assert generation.status == Status.EXPIRED
    assert not generation.may_have_charged  # it was never sent


def test_a_submit_lease_ends_at_the_deadline(alice, monkeypatch):
    generation = demo(alice, deadline=timezone.now() + timedelta(seconds=20))
    leases = []
    build_request = jobs.build_request

    def spy(generation):
        leases.append(Generation.objects.get(pk=generation.pk).lease_until)
        return build_request(generation)

    monkeypatch.setattr(jobs, "build_request", spy)
    jobs.submit(generation.pk)
    assert leases == [generation.deadline]  # not claim time + 300 s


def test_an_overdue_submit_that_may_have_been_sent_ends_at_the_next_sweep(alice):
    # A worker died mid-POST holding a long lease; the deadline passed before the lease ended.
    generation = demo(
        alice,
        status=Status.SUBMITTING,
        submitted_at=timezone.now() - timedelta(minutes=4),
        lease_until=timezone.now() + timedelta(minutes=1),
        deadline=timezone.now() + PAST,
    )
    recover_generations()
    generation.refresh_from_db()
    assert generation.status == Status.UNKNOWN_OUTCOME  # not "expired, nothing charged"
    assert generation.may_have_charged
    assert "deadline" in generation.error_message
    assert "may have received it and charged" in generation.error_message
    assert queued_submits() == 1  # only create_generation's: it is never sent again


def test_an_overdue_submit_that_was_not_sent_expires_uncharged_at_the_next_sweep(alice):
    generation = demo(
        alice,
        status=Status.SUBMITTING,
        lease_until=timezone.now() + timedelta(minutes=1),
        deadline=timezone.now() + PAST,
    )
    recover_generations()
    generation.refresh_from_db()
    assert generation.status == Status.EXPIRED
    assert not generation.may_have_charged
    assert "nothing was charged" in generation.error_message


def test_a_poller_pass_ends_an_overdue_submit(alice):
    generation = demo(
        alice,
        status=Status.SUBMITTING,
        submitted_at=timezone.now(),
        lease_until=timezone.now() + timedelta(minutes=1),
        deadline=timezone.now() + PAST,
    )
    running = demo(alice)
    jobs.submit(running.pk)  # keeps the pass busy
    poll_due_generations(pass_seconds=0.2)
    generation.refresh_from_db()
    assert generation.status == Status.UNKNOWN_OUTCOME


def test_ending_an_overdue_submit_never_misses_a_post_sent_meanwhile(alice):
    generation = demo(
        alice, status=Status.SUBMITTING, deadline=timezone.now() + PAST, lease_until=None
    )
    seen = Generation.objects.get(pk=generation.pk)  # read before the worker sets submitted_at
    Generation.objects.filter(pk=generation.pk).update(submitted_at=timezone.now())
    assert not jobs.end_at_deadline(seen)  # "expired, nothing charged" would be wrong now
    recover_generations()
    generation.refresh_from_db()
    assert generation.status == Status.UNKNOWN_OUTCOME
    assert generation.may_have_charged


def test_a_delivered_job_gets_until_its_download_lease_ends(alice, monkeypatch):
    # The vendor delivered one second before the deadline; the download outlasts it.
    generation = demo(
        alice, status=Status.DOWNLOADING, deadline=timezone.now() + timedelta(seconds=1)
    )
    seen = []

    def slow_process(data):
        # Mid-download, past the job's first deadline: a sweep now must leave it alone.
        expire_overdue(timezone.now() + timedelta(seconds=5))
        seen.append(Generation.objects.get(pk=generation.pk).status)
        return process(data)

    monkeypatch.setattr(store.images, "process", slow_process)
    store.store_results(generation, [ImageSource(data=render_png(64, 64, "fox", "s"))])
    generation.refresh_from_db()
    assert seen == [Status.DOWNLOADING]
    assert generation.status == Status.SUCCEEDED
    assert generation.deadline >= timezone.now() + timedelta(seconds=60)


def test_a_dead_download_is_resumed_before_its_deadline(alice):
    generation = demo(
        alice,
        status=Status.DOWNLOADING,
        deadline=timezone.now() + timedelta(seconds=30),
        lease_until=timezone.now() + PAST,
        pending_sources=[{"index": 0, "url": "http://example.invalid/a.png", "expires_at": None}],
    )
    recover_generations()
    generation.refresh_from_db()
    assert generation.status == Status.DOWNLOADING
    assert any(t.func() == "studio.engine.tasks.store_generation" for t in queued_tasks())


def test_a_download_past_its_deadline_ends_at_the_next_sweep(alice):
    # Whatever its state: a download whose attempts keep dying does not hang for ever.
    generation = demo(
        alice,
        status=Status.DOWNLOADING,
        submitted_at=timezone.now() - timedelta(minutes=20),
        deadline=timezone.now() + PAST,
        lease_until=timezone.now() + timedelta(minutes=1),  # even with a live-looking lease
        pending_sources=[{"index": 0, "url": "http://example.invalid/a.png", "expires_at": None}],
    )
    recover_generations()
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == "result_lost"
    assert "deadline passed" in generation.error_message
    assert generation.may_have_charged


def test_a_download_past_its_deadline_keeps_the_images_it_has(alice):
    generation = demo(alice)
    jobs.submit(generation.pk)
    drive(generation)
    stored = generation.images.get()
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.DOWNLOADING,
        deadline=timezone.now() + PAST,
        pending_sources=[
            {"index": 0, "url": stored.source_url, "expires_at": None},
            {"index": 1, "url": "http://example.invalid/b.png", "expires_at": None},
        ],
    )
    poll_due_generations(pass_seconds=0.1)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.error_message.startswith("1 of 2 images could not be kept")
    assert list(generation.images.all()) == [stored]


def test_no_more_passes_than_configured_poll_at_once(alice, settings):
    settings.STUDIO_POLLERS = 1
    assert acquire_lease("poller-pass:0", "someone-else", 30)
    generation = demo(alice)
    jobs.submit(generation.pk)
    poll_due_generations(pass_seconds=0.2)  # cannot take the lease: does nothing
    generation.refresh_from_db()
    assert generation.status == Status.RUNNING
    assert generation.polls == 0
    release_lease("poller-pass:0", "someone-else")
    assert drive(generation).status == Status.SUCCEEDED


def test_the_sweep_wakes_the_poller_when_jobs_are_running(alice):
    generation = demo(alice)
    jobs.submit(generation.pk)
    drop_queued_tasks()
    Lease.objects.update(expires_at=timezone.now())
    recover_generations()
    assert any(t.func() == "studio.engine.tasks.poll_due_generations" for t in queued_tasks())


def test_the_ledger_counts_each_spend_once(alice):
    generation = demo(alice)
    spend = Spend(
        credits_used=Decimal(2), credits_remaining=Decimal(98), tokens={"total_tokens": 7}
    )
    for _ in range(3):
        ledger.record_spend(generation, spend)
        ledger.record_images(generation, 1)
    kinds = sorted(CreditEntry.objects.filter(generation=generation).values_list("kind", flat=True))
    assert kinds == ["credits", "tokens"]


def test_submit_again_is_a_new_job_linked_to_the_old_one(alice):
    generation = demo(alice, status=Status.UNKNOWN_OUTCOME)
    again = submit_again(generation)
    assert again.pk != generation.pk
    assert again.retry_of == generation
    assert (again.prompt, again.model, again.status) == ("a fox", "demo", Status.QUEUED)
