"""Everything the engine hands to the task queue, in one place that depends on no other engine
module: jobs, store and the poller all enqueue work, so keeping it here lets their imports point
one way (store ← jobs ← poller ← recovery ← tasks; see tests/engine/test_import_graph.py).

Tasks take ids only: django-q2's task table is readable (signed, not encrypted)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

from studio.models import Generation, Lease

Status = Generation.Status
# Lease names (docs/engine.md, Polling in parallel): "poller-pass:<n>" for each of the
# STUDIO_POLLERS passes that may run at once, "poller:<n>" for each shard of jobs.
PASS_PREFIX = "poller-pass:"
SHARD_PREFIX = "poller:"
WAKE_SECONDS = 5


def pass_lease(n: int) -> str:
    return f"{PASS_PREFIX}{n}"


def shard_lease(n: int) -> str:
    return f"{SHARD_PREFIX}{n}"


def live_passes() -> int:
    return Lease.objects.filter(name__startswith=PASS_PREFIX, expires_at__gt=timezone.now()).count()


def send(func: str, *args, **options) -> None:
    """Enqueues a task. With the ORM broker the task row joins the caller's transaction (both
    or neither). With Redis it cannot: it is sent once the transaction commits, so a worker
    never looks for a row it cannot see yet; a task lost between the commit and the send is
    the recovery sweep's to redo, as for a worker that died holding it."""
    if "redis" in settings.Q_CLUSTER:
        transaction.on_commit(lambda: async_task(func, *args, **options))
    else:
        async_task(func, *args, **options)


def work_remains() -> bool:
    return Generation.objects.filter(
        Q(status=Status.RUNNING) | Q(status=Status.QUEUED, next_poll_at__isnull=False)
    ).exists()


def wake_poller(at_once: bool = False) -> None:
    """Makes sure STUDIO_POLLERS poller passes are running or queued. Extra passes end at once:
    they find no free pass lease. `at_once`: a pass ending hands over to its successor."""
    missing = settings.STUDIO_POLLERS - live_passes()
    if missing <= 0:
        return
    # While some pass polls, ask for the others at most once per WAKE_SECONDS: every submit
    # calls this, and a burst of submits queued before the new pass would each add a task.
    some_run = missing < settings.STUDIO_POLLERS
    if some_run and not at_once and not cache.add("poller-wake", 1, WAKE_SECONDS):
        return
    for _ in range(missing):
        send("studio.engine.tasks.poll_due_generations", task_name="poller", group="poller")


def submit(pk: int) -> None:
    send("studio.engine.tasks.submit_generation", pk, task_name=f"submit {pk}")


def store(pk: int) -> None:
    """A finished job's downloads and image work (`store.store_pending`)."""
    send("studio.engine.tasks.store_generation", pk, task_name=f"store {pk}")


def refresh_balance(credential_id: int) -> None:
    send("studio.engine.tasks.refresh_balance", credential_id, task_name=f"balance {credential_id}")


def refresh_balance_at(credential_id: int, when) -> None:
    """The balance read deferred past a burst of jobs (`ledger.refresh_balance_later`)."""
    schedule(
        "studio.engine.ledger.refresh_balance_after_burst",
        credential_id,
        schedule_type=Schedule.ONCE,
        next_run=when,
    )
