"""django-q2 task functions: thin wrappers that take ids only (the task table is readable)."""

from __future__ import annotations

from studio.engine import jobs, ledger, poller, recovery, store


def submit_generation(generation_id: int) -> None:
    jobs.submit(generation_id)


def poll_due_generations() -> None:
    poller.poll_due_generations()


def resume_download(generation_id: int) -> None:
    store.resume_download(generation_id)


def recover_generations() -> None:
    recovery.recover_generations()


def refresh_balance(credential_id: int) -> None:
    ledger.refresh_balance(credential_id)
