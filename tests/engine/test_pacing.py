"""The first poll waits for the quick end of recent jobs of the same vendor and model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from studio.engine import jobs, pacing
from studio.engine.services import create_generation
from studio.models import Generation
from studio.vendors import get_adapter
from studio.vendors.base import Accepted
from tests.engine.conftest import credential, drive

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_it_polls_at_the_adapters_time_until_it_has_seen_a_few_jobs():
    for _ in range(pacing.MIN_SAMPLES - 1):
        pacing.record_duration("chatbp", "dall-e-3", 30)
    assert pacing.first_poll_wait("chatbp", "dall-e-3", default=5, interval=5) == 5


def test_it_waits_for_the_quickest_tenth_less_one_interval():
    for seconds in range(20, 30):
        pacing.record_duration("chatbp", "dall-e-3", seconds)
    assert pacing.first_poll_wait("chatbp", "dall-e-3", default=1, interval=1) == 20
    # Another model of the same vendor has its own history.
    assert pacing.first_poll_wait("chatbp", "gpt-image-1", default=1, interval=1) == 1
    # Never sooner than the adapter's own first wait.
    assert pacing.first_poll_wait("chatbp", "dall-e-3", default=25, interval=1) == 25


def test_the_typical_duration_is_the_median_of_recent_jobs_once_there_are_enough():
    for seconds in (10, 90, 30, 20):
        pacing.record_duration("chatfire", "seedream-3.0", seconds)
    assert pacing.typical_duration("chatfire", "seedream-3.0") is None  # too few to guess
    pacing.record_duration("chatfire", "seedream-3.0", 40)
    assert pacing.typical_duration("chatfire", "seedream-3.0") == 30
    assert pacing.typical_duration("chatfire", "another-model") is None


def test_it_keeps_only_the_latest_samples():
    for _ in range(pacing.SAMPLES):
        pacing.record_duration("lemondata", "flux-pro", 60)
    for _ in range(pacing.SAMPLES):
        pacing.record_duration("lemondata", "flux-pro", 3)
    assert pacing.first_poll_wait("lemondata", "flux-pro", default=1, interval=1) == 2


def test_a_finished_job_is_remembered_and_delays_the_next_jobs_first_poll(alice, start_fake):
    start_fake("girlgenerator")
    key = credential(alice, "girlgenerator")
    first = drive(
        create_generation(
            alice, vendor="girlgenerator", credential=key, model="default", prompt="one"
        )
    )
    assert first.status == Generation.Status.SUCCEEDED
    assert len(cache.get("studio:durations:girlgenerator:default")) == 1

    for _ in range(10):
        pacing.record_duration("girlgenerator", "default", 30)
    later = create_generation(
        alice, vendor="girlgenerator", credential=key, model="default", prompt="two"
    )
    Generation.objects.filter(pk=later.pk).update(status=Generation.Status.SUBMITTING)
    later.refresh_from_db()
    before = timezone.now()
    jobs.handle_submit_result(later, Accepted("task-2", poll_after=10))
    later.refresh_from_db()
    assert later.status == Generation.Status.RUNNING
    interval = get_adapter("girlgenerator").poll_interval * 0.02  # the tests' poll scale
    expected = before + timedelta(seconds=30 - interval)
    assert abs((later.next_poll_at - expected).total_seconds()) < 1
