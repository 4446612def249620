"""The poller: passes that poll every due job, within each key's budget.

Workers never sleep through a vendor's wait. Up to STUDIO_POLLERS poller tasks ("passes") run
at once, on any hosts, each holding one of that many pass leases. Jobs fall into
STUDIO_POLL_SHARDS shards by their key (`Generation.shard`), and each shard is held by one
pass at a time under a lease: a pass polls only the jobs of its shards, so one key's requests
are chosen by one process at a time. Each pass takes free shards up to its fair share
(ceil(shards / live passes)) and gives back extras when another pass starts; the shards of a
pass that died come free when its leases run out. A pass polls its due jobs (concurrently, in
a small thread pool), hands deferred submits back to the queue, sleeps only until the next job
is due (at most a second), and after a bounded time re-enqueues itself and ends, so it never
holds a worker past the task timeout. A once-a-minute schedule revives passes whose worker
died. The cost scales with the number of jobs in flight, not with the number of workers.
"""

from __future__ import annotations

import logging
import math
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

from studio.engine import enqueue, jobs, ratelimit, schedule
from studio.engine.enqueue import pass_lease, shard_lease, wake_poller, work_remains
from studio.models import Generation, Lease
from studio.vendors import ADAPTERS, get_adapter

log = logging.getLogger(__name__)
Status = Generation.Status

PASS_SECONDS = 50
# While a poll is under way its job is pushed this far into the future, so the next loop does
# not poll it again; the poll itself then sets the real next time.
IN_PROGRESS = timedelta(seconds=120)
BATCH = 200
SCHEDULE_TICK = 0.5  # seconds: how often a rate-limited key's schedule looks again


def acquire_lease(name: str, holder: str, seconds: float) -> bool:
    now = timezone.now()
    Lease.objects.get_or_create(name=name, defaults={"expires_at": now})
    return bool(
        Lease.objects.filter(name=name)
        .filter(Q(expires_at__lte=now) | Q(holder=holder))
        .update(holder=holder, expires_at=now + timedelta(seconds=seconds))
    )


def release_lease(name: str, holder: str) -> None:
    # The holder is cleared too: renewing "what I hold" must not take a released lease back.
    Lease.objects.filter(name=name, holder=holder).update(expires_at=timezone.now(), holder="")


def take_pass(holder: str, seconds: float) -> str | None:
    """One of the STUDIO_POLLERS pass leases, or None: enough passes run already."""
    for n in range(settings.STUDIO_POLLERS):
        if acquire_lease(pass_lease(n), holder, seconds):
            return pass_lease(n)
    return None


def shard_names() -> list[str]:
    return [shard_lease(n) for n in range(settings.STUDIO_POLL_SHARDS)]


def ensure_shard_leases() -> None:
    Lease.objects.bulk_create(
        [Lease(name=name, expires_at=timezone.now()) for name in shard_names()],
        ignore_conflicts=True,
    )


def balance_shards(holder: str, seconds: float) -> list[int]:
    """Renews this pass's shard leases, gives back those past its fair share and takes free
    ones up to it; returns the shards it holds now.

    Every step is a conditional UPDATE on the lease rows, so two passes never hold one shard:
    a free shard goes to whichever UPDATE the database runs first (on PostgreSQL the second
    waits for the first's row lock, then finds the row no longer free)."""
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    names = shard_names()
    leases = Lease.objects.filter(name__in=names)
    leases.filter(holder=holder).update(expires_at=until)
    live = enqueue.live_passes()  # this pass's own pass lease included: at least 1
    share = math.ceil(len(names) / max(live, 1))
    held = sorted(leases.filter(holder=holder).values_list("name", flat=True), key=names.index)
    if len(held) > share:
        # Another pass started: leave it room. The next loop of that pass takes these.
        leases.filter(name__in=held[share:], holder=holder).update(expires_at=now, holder="")
        held = held[:share]
    elif len(held) < share:
        free = leases.filter(expires_at__lte=now).values_list("name", "holder", "expires_at")
        for name, before, expired in sorted(free, key=lambda row: names.index(row[0])):
            if len(held) >= share:
                break
            if leases.filter(name=name, holder=before, expires_at=expired).update(
                holder=holder, expires_at=until
            ):
                held.append(name)
                if before:  # run out, not given back: its pass died
                    release_claims(names.index(name), expired - timedelta(seconds=seconds), now)
    return sorted(names.index(name) for name in held)


def release_claims(shard: int, renewed_at, now) -> None:
    """The polls a dead pass had claimed in this shard (their next_poll_at pushed IN_PROGRESS
    ahead, from its last lease renewal on) are due now: it will never finish them. A job whose
    real next poll was that far off is polled early, which costs one request of its key's
    budget (still counted by the limiter), never a wrong result."""
    Generation.objects.filter(
        in_shards([shard]), status=Status.RUNNING, next_poll_at__gte=renewed_at + IN_PROGRESS
    ).update(next_poll_at=now)


def in_shards(shards: list[int]) -> Q:
    """The jobs of these shards. Jobs created while STUDIO_POLL_SHARDS was larger belong to
    shard 0's holder, so lowering the setting leaves no job unpolled."""
    jobs_of = Q(shard__in=shards)
    if 0 in shards:
        jobs_of |= Q(shard__gte=settings.STUDIO_POLL_SHARDS)
    return jobs_of


def expire_overdue(now, shards: list[int] | None = None) -> None:
    """Ends the jobs past their deadline: of these shards, or all (the recovery sweep). Each
    end is a conditional UPDATE, so a sweep and a pass ending the same job end it once."""
    # A download's deadline was moved on when the vendor delivered (docs/engine.md, Deadlines).
    overdue = Generation.objects.filter(
        status__in=[Status.QUEUED, Status.SUBMITTING, Status.RUNNING, Status.DOWNLOADING],
        deadline__lte=now,
    ).only("id", "status", "submitted_at")
    if shards is not None:
        overdue = overdue.filter(in_shards(shards))
    for generation in overdue:
        jobs.end_at_deadline(generation)


def release_deferred_submits(now, shards: list[int]) -> None:
    """Queued jobs whose key had no budget: back to a worker as a submit task, once each."""
    due = Generation.objects.filter(in_shards(shards), status=Status.QUEUED, next_poll_at__lte=now)
    for pk in due.values_list("pk", flat=True)[:BATCH]:
        if Generation.objects.filter(pk=pk, status=Status.QUEUED, next_poll_at__lte=now).update(
            next_poll_at=None, lease_until=now + jobs.QUEUE_GRACE
        ):
            enqueue.submit(pk)


def poll_due(now, shards: list[int], pool: ThreadPoolExecutor, client, futures: set) -> None:
    due = (
        Generation.objects.filter(in_shards(shards), status=Status.RUNNING, next_poll_at__lte=now)
        .select_related("credential")
        .order_by("next_poll_at")[:BATCH]
    )
    granted: list[Generation] = []
    # Keys with no limit to count (none documented, none learned) answer the same for every
    # job in this loop (blocked by a 429 or not): ask once per key, not once per job.
    unlimited: dict[str, float | None] = {}
    # Keys with a documented (or configured) limit: their schedule picks which job to poll.
    scheduled: dict[str, list[Generation]] = {}
    for generation in due:
        limit, period = jobs.rate_limit_of(get_adapter(generation.vendor))
        bucket = jobs.bucket_for(generation)
        if limit:
            scheduled.setdefault(bucket, []).append(generation)
            continue
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
    for bucket, waiting in scheduled.items():
        # One request per key and loop: the next loop sees this one's effect on the budget.
        limit, period = jobs.rate_limit_of(get_adapter(waiting[0].vendor))
        chosen = schedule.pick(bucket, waiting, now, get_adapter, limit, period)
        if chosen is not None:
            granted.append(chosen)
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
    lease_seconds = settings.STUDIO_POLL_LEASE_SECONDS
    ensure_shard_leases()
    slot = take_pass(holder, lease_seconds)
    if slot is None:
        return  # STUDIO_POLLERS passes run already
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
                if not acquire_lease(slot, holder, lease_seconds):
                    break  # our lease lapsed and another pass took over
                shards = balance_shards(holder, lease_seconds)
                now = timezone.now()
                expire_overdue(now, shards)
                release_deferred_submits(now, shards)
                poll_due(now, shards, pool, client, futures)
                futures = {f for f in futures if not f.done()}
                if not futures and not work_remains():
                    break
                time.sleep(seconds_until_next_due(now, shards))
            wait(futures, timeout=IN_PROGRESS.total_seconds())
    finally:
        pool.shutdown(wait=False)
        if all(f.done() for f in futures):
            # Pool threads outlive the pass's work only briefly; don't leave connections open.
            close_shared(thread_connections)
        Lease.objects.filter(name__in=shard_names(), holder=holder).update(
            expires_at=timezone.now(), holder=""
        )
        release_lease(slot, holder)
        close_old_connections()
    # Checked after the leases are released: a job that started running while this pass was
    # ending either saw a pass lease free (and woke a new pass) or is seen here.
    if work_remains():
        wake_poller(at_once=True)


def seconds_until_next_due(now, shards: list[int]) -> float:
    # Jobs of rate-limited keys stay due while their schedule waits for a likelier moment:
    # they are looked at again every SCHEDULE_TICK, not in a busy loop.
    scheduled = [vendor for vendor in ADAPTERS if jobs.rate_limit_of(get_adapter(vendor))[0]]
    pending = Generation.objects.filter(
        in_shards(shards), status__in=[Status.RUNNING, Status.QUEUED], next_poll_at__isnull=False
    )
    next_due = pending.exclude(vendor__in=scheduled, next_poll_at__lte=now).aggregate(
        Min("next_poll_at")
    )["next_poll_at__min"]
    longest = SCHEDULE_TICK if pending.filter(vendor__in=scheduled).exists() else 1.0
    if next_due is None:
        return longest
    return min(longest, max(0.05, (next_due - now).total_seconds()))
