"""django-q2 task functions: thin wrappers that take ids only (the task table is readable)."""

from __future__ import annotations

from django_q.models import Success

from studio.engine import jobs, ledger, poller, recovery, store

# Successful tasks kept for the admin's list, the newest first (failures are all kept).
KEPT_TASK_RESULTS = 1000


def submit_generation(generation_id: int) -> None:
    jobs.submit(generation_id)


def poll_due_generations() -> None:
    poller.poll_due_generations()


def store_generation(generation_id: int) -> None:
    store.store_pending(generation_id)


# The name tasks enqueued before store_generation existed still carry.
resume_download = store_generation


def recover_generations() -> None:
    recovery.recover_generations()


def refresh_balance(credential_id: int) -> None:
    ledger.refresh_balance(credential_id)


def prune_task_results(kept: int = KEPT_TASK_RESULTS) -> int:
    """Scheduled (every 10 minutes): deletes all but the newest `kept` successful tasks, in
    one DELETE. django-q2's own `save_limit` did it on every task's save by reading every kept
    row under a lock, in the monitor: 8 % of a cluster's CPU, holding SQLite's write lock
    meanwhile (benchmarks/README.md, engine). Returns how many were deleted."""
    newest = list(
        Success.objects.order_by("-stopped").values_list("stopped", flat=True)[kept - 1 : kept]
    )
    if not newest:
        return 0
    deleted, _ = Success.objects.filter(stopped__lt=newest[0]).delete()
    return deleted
