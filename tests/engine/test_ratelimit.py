from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from studio.engine import ratelimit
from studio.models import RateBudget


@pytest.fixture(autouse=True)
def no_margin(settings):
    settings.STUDIO_RATE_LIMIT_MARGIN = 0


def test_it_grants_up_to_the_limit_then_says_how_long_to_wait(db):
    assert [ratelimit.try_acquire("k", 3, 60) for _ in range(3)] == [0, 0, 0]
    wait = ratelimit.try_acquire("k", 3, 60)
    assert 59 < wait <= 60
    # Another key has its own budget.
    assert ratelimit.try_acquire("other", 3, 60) == 0


def test_the_window_slides(db):
    for _ in range(2):
        assert ratelimit.try_acquire("k", 2, 0.5) == 0
    assert ratelimit.try_acquire("k", 2, 0.5) > 0
    time.sleep(0.55)
    assert ratelimit.try_acquire("k", 2, 0.5) == 0


def test_the_margin_widens_the_window(db, settings):
    settings.STUDIO_RATE_LIMIT_MARGIN = 1.0
    assert ratelimit.try_acquire("k", 1, 60) == 0
    assert ratelimit.try_acquire("k", 1, 60) > 60


def test_a_block_stops_every_request_until_it_passes(db):
    ratelimit.block("k", 30)
    assert 29 < ratelimit.try_acquire("k", None, 60) <= 30
    assert 29 < ratelimit.try_acquire("k", 10, 60) <= 30
    # A shorter block does not shorten a longer one.
    ratelimit.block("k", 1)
    assert ratelimit.try_acquire("k", 10, 60) > 29


def test_unlimited_keys_are_always_granted(db):
    assert all(ratelimit.try_acquire("k", None, 60) == 0 for _ in range(50))


@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_never_exceed_the_limit():
    granted = []

    def take():
        for _ in range(10):
            if ratelimit.try_acquire("shared", 7, 60) == 0:
                granted.append(1)
        connection.close()

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 7
    assert len(RateBudget.objects.get(bucket="shared").hits) == 7
