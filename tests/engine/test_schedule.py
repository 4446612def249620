"""A rate-limited key's schedule: which job it polls next, and when (engine/schedule.py)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from studio.engine import pacing, schedule
from studio.engine.schedule import Candidate, chance, choose, ready_cdf
from studio.engine.services import create_generation
from studio.models import Generation, RateBudget
from studio.vendors import get_adapter
from tests.engine.conftest import KEY, credential
from tests.worker import wait_for

Status = Generation.Status
# Past jobs of this model were ready 15–30 s after the vendor accepted them.
HISTORY = [(15.0, 15.0), (18.0, 18.0), (21.0, 21.0), (24.0, 24.0), (27.0, 27.0), (30.0, 30.0)]


def job(pk: int, elapsed: float, polled: float = 0.0, windows=HISTORY) -> Candidate:
    return Candidate(pk, elapsed, polled, ready_cdf(windows))


def test_each_window_is_spread_evenly_over_its_span():
    cdf = ready_cdf([(10.0, 20.0), (20.0, 20.0)])
    assert cdf(5) == 0
    assert cdf(15) == pytest.approx(0.25)
    assert cdf(20) == 1


def test_the_job_most_likely_done_is_polled_first():
    young, old = job(1, elapsed=20), job(2, elapsed=25)
    assert chance(young) == pytest.approx(2 / 6)  # 15 and 18 of the six are done by 20
    assert choose([young, old], free=10, in_flight=2) == old


def test_a_job_polled_in_vain_counts_only_what_is_left():
    # Both 25 s old; one was seen still running at 22 s: fewer of the past jobs remain
    # possible for it, so it is less likely done than the one never asked.
    asked, unasked = job(1, elapsed=25, polled=22), job(2, elapsed=25)
    assert chance(asked) == pytest.approx((4 / 6 - 3 / 6) / (1 - 3 / 6))
    assert choose([asked, unasked], free=10, in_flight=2) == unasked


def test_no_job_is_polled_before_it_is_plausibly_done():
    assert choose([job(1, elapsed=12), job(2, elapsed=17)], free=10, in_flight=2) is None
    # An even chance, with slots to spare: polled.
    assert choose([job(1, elapsed=22.5)], free=10, in_flight=1).pk == 1


def test_the_fewer_slots_per_job_the_surer_a_poll_must_be():
    at_24 = [job(pk, elapsed=24) for pk in range(6)]  # each 4 in 6 likely done
    assert choose(at_24, free=6, in_flight=6) is not None
    assert choose(at_24, free=2, in_flight=6) is None  # 1 - 2/12: needs 5 in 6
    at_30 = [job(pk, elapsed=30) for pk in range(6)]  # all surely done
    assert choose(at_30, free=2, in_flight=6) is not None


def test_no_request_without_budget():
    assert choose([job(1, elapsed=60)], free=0, in_flight=1) is None


def test_a_job_older_than_every_past_one_is_overdue():
    late = job(1, elapsed=45, polled=35)
    assert chance(late) == 1
    assert choose([job(2, elapsed=29), late], free=1, in_flight=2) == late


@pytest.mark.django_db
def test_a_model_without_history_gets_the_adapters_prior(settings):
    cache.clear()
    settings.STUDIO_POLL_SCALE = 1
    adapter = get_adapter("girlgenerator")
    windows = schedule.windows_for("girlgenerator", "default", adapter)
    assert windows == [adapter.typical_seconds] * pacing.MIN_SAMPLES
    low, high = adapter.typical_seconds
    assert ready_cdf(windows)((low + high) / 2) == pytest.approx(0.5)
    # Each real sample replaces one of the prior's, until history has them all.
    pacing.record_window("girlgenerator", "default", 12.0, 14.0)
    windows = schedule.windows_for("girlgenerator", "default", adapter)
    assert windows == [(12.0, 14.0)] + [adapter.typical_seconds] * (pacing.MIN_SAMPLES - 1)
    for _ in range(pacing.MIN_SAMPLES):
        pacing.record_window("girlgenerator", "default", 12.0, 14.0)
    assert adapter.typical_seconds not in schedule.windows_for("girlgenerator", "default", adapter)
    cache.clear()


# --- with the database: the budget and waiting submits ----------------------------------------


@pytest.fixture
def running(alice, settings):
    """Three girlgenerator jobs on one key, accepted 60 s ago (surely done by the prior)."""
    cache.clear()
    settings.STUDIO_POLL_SCALE = 1
    cred = credential(alice, "girlgenerator")
    made = []
    for i in range(3):
        generation = create_generation(
            alice, vendor="girlgenerator", credential=cred, model="default", prompt=f"job {i}"
        )
        accepted = timezone.now() - timedelta(seconds=60 - i)
        Generation.objects.filter(pk=generation.pk).update(
            status=Status.RUNNING, running_at=accepted, next_poll_at=accepted, remote_id=f"t{i}"
        )
        made.append(generation)
    yield list(Generation.objects.filter(pk__in=[g.pk for g in made]).order_by("running_at"))
    cache.clear()


def pick(due):
    from studio.engine import jobs

    return schedule.pick(jobs.bucket_for(due[0]), due, timezone.now(), get_adapter, 10, 60.0)


def fill_budget(bucket: str, used: int) -> None:
    RateBudget.objects.update_or_create(bucket=bucket, defaults={"hits": [time.time()] * used})


@pytest.mark.django_db(transaction=True)
def test_pick_takes_the_request_from_the_budget(running):
    from studio.engine import jobs

    bucket = jobs.bucket_for(running[0])
    assert pick(running) == running[0]  # the oldest of equally likely jobs
    assert schedule.free_slots(bucket, 10, 60.0) == 9


@pytest.mark.django_db(transaction=True)
def test_pick_never_exceeds_the_budget(running, monkeypatch):
    from studio.engine import jobs

    bucket = jobs.bucket_for(running[0])
    fill_budget(bucket, 10)
    assert schedule.free_slots(bucket, 10, 60.0) == 0
    assert pick(running) is None
    assert len(RateBudget.objects.get(bucket=bucket).hits) == 10
    # The limiter stays the authority: a full budget refuses even when the hint says a slot
    # is free (another process took it meanwhile).
    monkeypatch.setattr(schedule, "free_slots", lambda *args: 5)
    assert pick(running) is None
    assert len(RateBudget.objects.get(bucket=bucket).hits) == 10


@pytest.mark.django_db(transaction=True)
def test_submits_waiting_on_the_key_come_before_polls(running, alice):
    from studio.engine import jobs

    bucket = jobs.bucket_for(running[0])
    fill_budget(bucket, 8)  # two slots left
    for i in range(2):
        create_generation(
            alice,
            vendor="girlgenerator",
            credential=running[0].credential,
            model="default",
            prompt=f"waiting {i}",
        )
    assert pick(running) is None  # both slots are the queued submits'
    waiting = Generation.objects.filter(status=Status.QUEUED).first()
    Generation.objects.filter(pk=waiting.pk).update(status=Status.CANCELED)
    assert pick(running) is not None


# --- with a real worker -----------------------------------------------------------------------


def most_in_a_window(times: list[float], period: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t - start < period) for i, start in enumerate(times))


@pytest.mark.slow
def test_several_jobs_on_one_key_all_finish_within_its_limit(alice, start_fake, worker):
    """Six jobs with different vendor times on a 10-per-6-s key (the engine tests' fast
    clock): more requests than one window allows, so the schedule has to wait for slots."""
    period = 6.0
    fake = start_fake("girlgenerator", rate_limit=(10, period))
    ready_after = {f"job {i}": 0.3 + 0.1 * i for i in range(6)}
    pending, processing, success, _failed = fake.statuses

    def status_of(task, req=None):
        elapsed = time.monotonic() - task.created
        return success if elapsed >= ready_after[task.prompt] else processing

    fake.status_of = status_of
    cred = credential(alice, "girlgenerator")
    generations = [
        create_generation(
            alice, vendor="girlgenerator", credential=cred, model="default", prompt=prompt
        )
        for prompt in ready_after
    ]
    worker.start(STUDIO_VENDOR_RATE_LIMITS=f'{{"girlgenerator": [10, {period}]}}')
    for generation in generations:
        wait_for(
            lambda g=generation: g.refresh_from_db() or g.status in Generation.ENDED,
            6 * period,
            message="a job never ended",
        )
        assert generation.status == Status.SUCCEEDED, generation.error_message
    requests = [r for r in fake.requests if r.key == KEY and r.path.startswith("/api/")]
    assert len(requests) >= 12  # a submit and a poll each: more than one window holds
    assert most_in_a_window([r.time for r in requests], period) <= 10
    assert not [r for r in fake.requests if r.path.startswith("/_fake")]
    # The schedule learned from them: each left the window it became ready in.
    assert len(pacing.ready_windows("girlgenerator", "default")) == 6
