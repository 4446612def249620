"""Per-key request budgets, shared by every process through the database.

A sliding log of request times per vendor key: exact (never more than `limit` requests in any
`period`), where a token bucket would allow a burst plus a refill inside one window. Submits and
polls draw from the same budget. A 429's Retry-After blocks the key for every process.

A key whose vendor documents no limit is not counted until the vendor refuses a request. From
then on it is counted against a limit learned from its 429s, the way TCP learns a congestion
window (all of it lives on the key's row, so every process and host shares it):

- the first 429 starts at one request per window, the window being the vendor's Retry-After
  (the time it needs to free a slot); slow start then doubles the limit each window in which
  it was all used and more requests were waiting;
- a later 429 sets the limit to what the vendor accepted in its window: the requests we sent
  in it, less the refused ones (TCP can only guess by halving; we can count). At one request
  per window the window doubles instead;
- after that the limit grows by one only after PROBE_WINDOWS full windows without a 429: each
  probe the vendor refuses costs one 429, so probing rarely keeps them rare.

A request is granted here, then the key is decrypted and the request built and sent: another
process may record a 429's block in between. `check_before_send`, an httpx request hook on the
engine's vendor client, reads the block once more just before the request goes to the socket
and raises `Blocked` instead of sending it.

The budget row is locked for the check-and-append: SELECT … FOR UPDATE on PostgreSQL; on SQLite
the IMMEDIATE transaction already holds the database's write lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from studio.models import RateBudget

# Bounds of a learned window: the first Retry-After within MIN..FIRST_MAX seconds (an hour's
# Retry-After says "come back later", not "one request an hour"); doubling stops at MAX.
MIN_PERIOD, FIRST_MAX_PERIOD, MAX_PERIOD = 1.0, 60.0, 600.0
PROBE_WINDOWS = 6


def try_acquire(bucket: str, limit: int | None, period: float) -> float:
    """Takes one request from the budget: 0 if granted, else the seconds to wait.

    `limit` None: the vendor documents none; the key's learned limit applies once it has one."""
    if not limit:
        # Nothing to count yet: only a 429's block applies, and reading it takes no lock (on
        # SQLite the locked path below would take the database's write lock for every poll).
        wait = unlimited_wait(bucket)
        if wait is not None:
            return wait
    with transaction.atomic():
        budget = _locked_budget(bucket)
        now = timezone.now()
        if budget.blocked_until and budget.blocked_until > now:
            return (budget.blocked_until - now).total_seconds()
        learned = not limit
        if learned:
            limit, period = budget.learned_limit, budget.learned_period
        # The vendor counts a request when it arrives, we count it when it leaves: the margin
        # covers a request that was slow to connect followed by one that was quick.
        window = period + settings.STUDIO_RATE_LIMIT_MARGIN
        epoch = time.time()
        hits = [t for t in budget.hits if t > epoch - window]
        fields = ["hits"]
        if learned and len(hits) >= limit and _grow(budget, now, window):
            limit = budget.learned_limit
            fields += ["learned_limit", "learned_at"]
        if len(hits) >= limit:
            if len(fields) > 1:
                budget.save(update_fields=fields[1:])
            return max(0.01, hits[-limit] + window - epoch)
        hits.append(epoch)
        budget.hits = hits
        budget.save(update_fields=fields)
        return 0.0


def unlimited_wait(bucket: str) -> float | None:
    """For a key whose vendor documents no limit, read without a lock: the seconds a 429's
    block still holds it, 0 if nothing limits it, None if it has a learned limit to count."""
    blocked, learned = (
        RateBudget.objects.filter(bucket=bucket)
        .values_list("blocked_until", "learned_limit")
        .first()
    ) or (None, None)
    wait = _left(blocked)
    if not wait and learned and settings.STUDIO_RATE_LEARNING:
        return None
    return wait


def block(bucket: str, seconds: float) -> None:
    """A 429: stops every process from using the key until the vendor's Retry-After has passed,
    and lowers the key's learned limit."""
    with transaction.atomic():
        budget = _locked_budget(bucket)
        now = timezone.now()
        until = now + timedelta(seconds=seconds)
        # A 429 that arrives while the key is blocked was sent before the block was recorded:
        # it is part of the refusal that set the block, not a new one.
        same_refusal = bool(budget.blocked_until and budget.blocked_until > now)
        if settings.STUDIO_RATE_LEARNING:
            _learn(budget, seconds, same_refusal, now)
        if not budget.blocked_until or budget.blocked_until < until:
            budget.blocked_until = until
        budget.save()


def _learn(budget: RateBudget, seconds: float, same_refusal: bool, now: datetime) -> None:
    limit = budget.learned_limit
    if limit is None:
        # Nothing was counted before the first 429: start from one request per window.
        budget.learned_limit = 1
        budget.learned_period = min(max(seconds, MIN_PERIOD), FIRST_MAX_PERIOD)
        budget.slow_start = True
    elif same_refusal:
        budget.learned_limit = max(1, limit - 1)  # one more of the requests sent was refused
    else:
        # The refused request is one of those sent; the vendor accepted the others.
        budget.learned_limit = max(1, min(limit - 1, _sent(budget, now.timestamp()) - 1))
        if limit == 1:
            budget.learned_period = min(budget.learned_period * 2, MAX_PERIOD)
        budget.slow_start = False
    budget.learned_at = now


def _sent(budget: RateBudget, epoch: float) -> int:
    """Requests granted in the learned window that ended at `epoch`."""
    return sum(1 for t in budget.hits if epoch - budget.learned_period < t <= epoch)


def _grow(budget: RateBudget, now: datetime, window: float) -> bool:
    """The learned limit is all used and more requests wait: grow it if it has held long
    enough (one window in slow start, PROBE_WINDOWS windows after)."""
    held = window if budget.slow_start else window * PROBE_WINDOWS
    if budget.learned_at and (now - budget.learned_at).total_seconds() < held:
        return False
    limit = budget.learned_limit
    budget.learned_limit = limit * 2 if budget.slow_start else limit + 1
    budget.learned_at = now
    return True


# --- the last moment before sending ----------------------------------------------------------


class Blocked(Exception):
    """A 429 blocked the key after this request was granted: it was not sent.

    Not an httpx error on purpose: adapters map those to "may have reached the vendor"."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"key blocked for {seconds:.1f} s; request not sent")
        self.seconds = seconds


_sending_for: ContextVar[str | None] = ContextVar("studio_rate_bucket", default=None)


@contextmanager
def sending_for(bucket: str) -> Iterator[None]:
    """Requests sent inside this block (on this thread) are for `bucket`'s key."""
    token = _sending_for.set(bucket)
    try:
        yield
    finally:
        _sending_for.reset(token)


def check_before_send(request: object) -> None:
    """httpx request hook: runs after the request is built, just before it is sent."""
    bucket = _sending_for.get()
    if bucket is None:
        return  # not an engine call for a key (a key check from the web page, say)
    blocked = RateBudget.objects.filter(bucket=bucket).values_list("blocked_until", flat=True)
    wait = _left(blocked.first())
    if wait:
        give_back(bucket)
        raise Blocked(wait)


def give_back(bucket: str) -> None:
    """A granted request was not sent after all: it does not count (one slot, any of them)."""
    with transaction.atomic():
        budget = RateBudget.objects.select_for_update().filter(bucket=bucket).first()
        if not budget or not budget.hits:
            return
        budget.hits = budget.hits[:-1]
        if budget.learned_limit and budget.learned_at and _left(budget.blocked_until):
            # The 429 that set this block learned the limit counting this request as sent
            # (it was granted before the block): count again without it.
            sent = _sent(budget, budget.learned_at.timestamp())
            budget.learned_limit = max(1, min(budget.learned_limit, sent - 1))
        budget.save(update_fields=["hits", "learned_limit"])


def _left(blocked_until: datetime | None) -> float:
    now = timezone.now()
    return (blocked_until - now).total_seconds() if blocked_until and blocked_until > now else 0.0


def _locked_budget(bucket: str) -> RateBudget:
    budget = RateBudget.objects.select_for_update().filter(bucket=bucket).first()
    if budget is None:
        try:
            with transaction.atomic():
                RateBudget.objects.create(bucket=bucket)
        except IntegrityError:
            pass  # another process created it first
        budget = RateBudget.objects.select_for_update().get(bucket=bucket)
    return budget
