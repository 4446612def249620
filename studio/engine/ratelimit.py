"""Per-key request budgets, shared by every process through the database.

A sliding log of request times per vendor key: exact (never more than `limit` requests in any
`period`), where a token bucket would allow a burst plus a refill inside one window. Submits and
polls draw from the same budget. A 429's Retry-After blocks the key for every process.

The budget row is locked for the check-and-append: SELECT … FOR UPDATE on PostgreSQL; on SQLite
the IMMEDIATE transaction already holds the database's write lock.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from studio.models import RateBudget


def try_acquire(bucket: str, limit: int | None, period: float) -> float:
    """Takes one request from the budget: 0 if granted, else the seconds to wait."""
    # The vendor counts a request when it arrives, we count it when it leaves: the margin
    # covers a request that was slow to connect followed by one that was quick.
    period += settings.STUDIO_RATE_LIMIT_MARGIN
    if not limit:
        # Nothing to count: only a 429's block applies, and reading it takes no lock (on SQLite
        # the locked path below would take the database's write lock for every poll).
        blocked = (
            RateBudget.objects.filter(bucket=bucket).values_list("blocked_until", flat=True).first()
        )
        now = timezone.now()
        return (blocked - now).total_seconds() if blocked and blocked > now else 0.0
    with transaction.atomic():
        budget = _locked_budget(bucket)
        now = timezone.now()
        if budget.blocked_until and budget.blocked_until > now:
            return (budget.blocked_until - now).total_seconds()
        epoch = time.time()
        hits = [t for t in budget.hits if t > epoch - period]
        if len(hits) >= limit:
            return max(0.01, hits[-limit] + period - epoch)
        hits.append(epoch)
        budget.hits = hits
        budget.save(update_fields=["hits"])
        return 0.0


def block(bucket: str, seconds: float) -> None:
    """Stops every process from using the key until the vendor's Retry-After has passed."""
    until = timezone.now() + timedelta(seconds=seconds)
    with transaction.atomic():
        budget = _locked_budget(bucket)
        if not budget.blocked_until or budget.blocked_until < until:
            budget.blocked_until = until
            budget.save(update_fields=["blocked_until"])


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
