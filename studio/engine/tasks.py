"""django-q2 task functions: thin wrappers that take ids only (the task table is readable)."""

from __future__ import annotations

from studio.engine import jobs, ledger, poller, recovery, store


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
