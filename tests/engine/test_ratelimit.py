from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

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


# --- a limit learned from 429s, for keys whose vendor documents none -------------------------


def learned(bucket="k") -> tuple[int | None, float | None, bool]:
    budget = RateBudget.objects.get(bucket=bucket)
    return budget.learned_limit, budget.learned_period, budget.slow_start


def lift_block(bucket="k", ago: float = 0) -> None:
    """The block has passed and the limit last changed `ago` seconds back."""
    RateBudget.objects.filter(bucket=bucket).update(
        blocked_until=None, learned_at=timezone.now() - timedelta(seconds=ago)
    )


def grants(bucket="k", tries=20) -> int:
    return sum(ratelimit.try_acquire(bucket, None, 60) == 0 for _ in range(tries))


def test_a_key_is_not_counted_until_its_first_429_then_starts_at_one_per_window(db):
    assert grants() == 20
    assert not RateBudget.objects.filter(bucket="k").exists()  # not even a row
    ratelimit.block("k", 10)
    assert learned() == (1, 10.0, True)
    lift_block()
    assert grants() == 1
    # The window is the vendor's Retry-After, within bounds.
    ratelimit.block("short", 0.2)
    ratelimit.block("long", 3600)
    assert learned("short")[1] == ratelimit.MIN_PERIOD
    assert learned("long")[1] == ratelimit.FIRST_MAX_PERIOD


def test_slow_start_doubles_the_limit_each_full_window(db):
    ratelimit.block("k", 10)
    lift_block()
    assert grants() == 1
    lift_block(ago=5)  # the window has not passed: no growth yet
    assert grants() == 0
    for limit in (2, 4, 8):
        RateBudget.objects.update(hits=[])
        lift_block(ago=11)
        assert grants() == limit
        assert learned()[0] == limit


def test_a_later_429_keeps_what_the_vendor_accepted_in_its_window(db):
    ratelimit.block("k", 10)
    RateBudget.objects.update(learned_limit=8)
    lift_block()
    assert grants() == 8
    # The sixth request was refused: five were accepted.
    RateBudget.objects.update(hits=RateBudget.objects.get().hits[:6])
    ratelimit.block("k", 10)
    assert learned() == (5, 10.0, False)
    # Two more sent with it come back refused too: the same refusal, one fewer accepted each.
    ratelimit.block("k", 10)
    ratelimit.block("k", 10)
    assert learned()[0] == 3


def test_a_429_never_keeps_the_limit_that_was_refused(db):
    ratelimit.block("k", 10)
    RateBudget.objects.update(learned_limit=4, slow_start=False)
    lift_block()
    RateBudget.objects.update(hits=[time.time() - 30] * 10)  # old requests: outside the window
    ratelimit.block("k", 10)
    assert learned()[0] == 1  # none of ours in the window: one, the least there is
    RateBudget.objects.update(learned_limit=4, hits=[time.time()] * 9)
    lift_block()
    ratelimit.block("k", 10)
    assert learned()[0] == 3  # more sent than the limit (another process's): one less


def test_at_one_request_per_window_a_429_doubles_the_window(db):
    ratelimit.block("k", 5)
    lift_block()
    ratelimit.block("k", 5)
    assert learned() == (1, 10.0, False)
    lift_block()
    ratelimit.block("k", 5)
    assert learned()[1] == 20.0


def test_after_slow_start_it_probes_one_more_only_after_several_quiet_windows(db):
    ratelimit.block("k", 10)
    RateBudget.objects.update(learned_limit=5, slow_start=False)
    window = 10 + 0  # the tests' margin is 0
    lift_block(ago=window * (ratelimit.PROBE_WINDOWS - 1))
    assert grants() == 5
    RateBudget.objects.update(hits=[])
    lift_block(ago=window * ratelimit.PROBE_WINDOWS)
    assert grants() == 6
    assert learned()[0] == 6


def test_a_key_that_is_not_busy_does_not_grow(db):
    ratelimit.block("k", 10)
    lift_block(ago=3600)
    assert ratelimit.try_acquire("k", None, 60) == 0  # one request in a window of one: full
    RateBudget.objects.update(hits=[])
    lift_block(ago=3600)
    assert ratelimit.try_acquire("k", None, 60) == 0
    assert learned()[0] == 1  # granted within the limit: nothing waited, nothing learned


def test_a_documented_limit_is_never_replaced_by_a_learned_one(db):
    ratelimit.block("k", 10)
    lift_block()
    assert sum(ratelimit.try_acquire("k", 3, 60) == 0 for _ in range(5)) == 3


def test_learning_can_be_switched_off(db, settings):
    settings.STUDIO_RATE_LEARNING = False
    ratelimit.block("k", 10)
    assert learned()[0] is None
    lift_block()
    assert grants() == 20


@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_never_exceed_a_learned_limit():
    ratelimit.block("shared", 60)
    RateBudget.objects.update(learned_limit=4, slow_start=False)
    lift_block("shared")
    granted = []

    def take():
        for _ in range(10):
            if ratelimit.try_acquire("shared", None, 60) == 0:
                granted.append(1)
        connection.close()

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 4


def test_requests_stopped_by_the_block_are_not_counted_as_accepted(db):
    ratelimit.block("k", 10)
    RateBudget.objects.update(learned_limit=8)
    lift_block()
    assert grants() == 8
    # The sixth was refused; the last two were granted with it but stopped before sending.
    ratelimit.block("k", 10)
    assert learned()[0] == 7  # eight counted as sent
    ratelimit.give_back("k")
    ratelimit.give_back("k")
    assert learned()[0] == 5
    assert len(RateBudget.objects.get().hits) == 6
