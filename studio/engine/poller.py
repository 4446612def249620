"""The poller: one pass at a time polls every due job, within each key's budget.

Workers never sleep through a vendor's wait. One poller task, kept a singleton by a lease row,
polls the jobs that are due (concurrently, in a small thread pool), hands deferred submits back
to the queue, sleeps only until the next job is due (at most a second), and after a bounded
time re-enqueues itself and ends, so it never holds a worker past the task timeout. A
once-a-minute schedule revives it if its worker died. The cost scales with the number of jobs
in flight, not with the number of workers.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections
from django.db.models import Min, Q
from django.utils import timezone

from studio.engine import enqueue, jobs, ratelimit
from studio.engine.enqueue import POLLER, wake_poller, work_remains
from studio.models import Generation, Lease
from studio.vendors import get_adapter

log = logging.getLogger(__name__)
Status = Generation.Status

LEASE_SECONDS = 30
PASS_SECONDS = 50
# While a poll is under way its job is pushed this far into the future, so the next loop does
# not poll it again; the poll itself then sets the real next time.
IN_PROGRESS = timedelta(seconds=120)
BATCH = 200


def acquire_lease(name: str, holder: str, seconds: float) -> bool:
    now = timezone.now()
    Lease.objects.get_or_create(name=name, defaults={"expires_at": now})
    return bool(
        Lease.objects.filter(name=name)
        .filter(Q(expires_at__lte=now) | Q(holder=holder))
        .update(holder=holder, expires_at=now + timedelta(seconds=seconds))
    )


def release_lease(name: str, holder: str) -> None:
    Lease.objects.filter(name=name, holder=holder).update(expires_at=timezone.now())


def expire_overdue(now) -> None:
    # A download's deadline was moved on when the vendor delivered (docs/engine.md, Deadlines).
    overdue = Generation.objects.filter(
        status__in=[Status.QUEUED, Status.SUBMITTING, Status.RUNNING, Status.DOWNLOADING],
        deadline__lte=now,
    ).only("id", "status", "submitted_at")
    for generation in overdue:
        jobs.end_at_deadline(generation)


def release_deferred_submits(now) -> None:
    """Queued jobs whose key had no budget: back to a worker as a submit task, once each."""
    due = Generation.objects.filter(status=Status.QUEUED, next_poll_at__lte=now)
    for pk in due.values_list("pk", flat=True)[:BATCH]:
        if Generation.objects.filter(pk=pk, status=Status.QUEUED, next_poll_at__lte=now).update(
            next_poll_at=None, lease_until=now + jobs.QUEUE_GRACE
        ):
            enqueue.submit(pk)


def poll_due(now, pool: ThreadPoolExecutor, client, futures: set) -> None:
    due = (
        Generation.objects.filter(status=Status.RUNNING, next_poll_at__lte=now)
        .select_related("credential")
        .order_by("next_poll_at")[:BATCH]
    )
    granted: list[Generation] = []
    # Keys with no limit to count (none documented, none learned) answer the same for every
    # job in this loop (blocked by a 429 or not): ask once per key, not once per job.
    unlimited: dict[str, float | None] = {}
    for generation in due:
        limit, period = jobs.rate_limit_of(get_adapter(generation.vendor))
        bucket = jobs.bucket_for(generation)
        wait_for = None
        if not limit:
            if bucket not in unlimited:
                unlimited[bucket] = ratelimit.unlimited_wait(bucket)
            wait_for = unlimited[bucket]
        if wait_for is None:  # counted: a documented or learned limit
            wait_for = ratelimit.try_acquire(bucket, limit, period)
        if wait_for:
            Generation.objects.filter(
                pk=generation.pk, status=Status.RUNNING, next_poll_at=generation.next_poll_at
            ).update(next_poll_at=now + timedelta(seconds=wait_for))
        else:
            granted.append(generation)
    if not granted:
        return
    # One conditional UPDATE claims them all; a job that was canceled, ended or claimed by
    # another pass meanwhile no longer matches and is left alone.
    claim = now + IN_PROGRESS
    pks = [g.pk for g in granted]
    claimed_count = Generation.objects.filter(
        pk__in=pks, status=Status.RUNNING, next_poll_at__lte=now
    ).update(next_poll_at=claim)
    if claimed_count < len(pks):
        claimed = set(
            Generation.objects.filter(
                pk__in=pks, status=Status.RUNNING, next_poll_at=claim
            ).values_list("pk", flat=True)
        )
        granted = [g for g in granted if g.pk in claimed]
    for generation in granted:
        futures.add(pool.submit(poll_in_thread, generation, client))


def poll_in_thread(generation: Generation, client) -> None:
    try:
        jobs.poll(generation, client)
    except Exception:
        log.exception("polling generation %s failed", generation.pk)
        # The connection may be the trouble: the next poll in this thread opens a new one.
        connection.close()


def share_connection(registry: list) -> None:
    """Pool thread initializer: keeps the thread's database connection for the whole pass
    (one per thread, not one per poll) and lets the pass close it when it ends."""
    conn = connections[DEFAULT_DB_ALIAS]
    conn.inc_thread_sharing()
    registry.append(conn)


def close_shared(registry: list) -> None:
    for conn in registry:
        conn.close()
        conn.dec_thread_sharing()


def poll_due_generations(pass_seconds: float = PASS_SECONDS) -> None:
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not acquire_lease(POLLER, holder, LEASE_SECONDS):
        return
    started = time.monotonic()
    futures: set = set()
    thread_connections: list = []
    pool = ThreadPoolExecutor(
        settings.STUDIO_POLL_CONCURRENCY,
        thread_name_prefix="poll",
        initializer=share_connection,
        initargs=(thread_connections,),
    )
    try:
        with jobs.vendor_client() as client:
            while time.monotonic() - started < pass_seconds:
                if not acquire_lease(POLLER, holder, LEASE_SECONDS):
                    break  # our lease lapsed and another pass took over
                now = timezone.now()
                expire_overdue(now)
                release_deferred_submits(now)
                poll_due(now, pool, client, futures)
                futures = {f for f in futures if not f.done()}
                if not futures and not work_remains():
                    break
                time.sleep(seconds_until_next_due(now))
            wait(futures, timeout=IN_PROGRESS.total_seconds())
    finally:
        pool.shutdown(wait=False)
        if all(f.done() for f in futures):
            # Pool threads outlive the pass's work only briefly; don't leave connections open.
            close_shared(thread_connections)
        release_lease(POLLER, holder)
        close_old_connections()
    # Checked after the lease is released: a job that started running while this pass was
    # ending either saw the lease free (and woke a new pass) or is seen here.
    if work_remains():
        wake_poller()


def seconds_until_next_due(now) -> float:
    next_due = Generation.objects.filter(
        status__in=[Status.RUNNING, Status.QUEUED], next_poll_at__isnull=False
    ).aggregate(Min("next_poll_at"))["next_poll_at__min"]
    if next_due is None:
        return 1.0
    return min(1.0, max(0.05, (next_due - now).total_seconds()))
