"""The two ways a job changes state. Both are conditional UPDATEs (`… WHERE status IN expected`):
atomic on SQLite and PostgreSQL, so of two processes acting on one job only one wins."""

from __future__ import annotations

from django.utils import timezone

from studio.models import Generation

Status = Generation.Status


def update(generation: Generation, expected, *, where: dict | None = None, **fields) -> bool:
    """Moves the job on only if it is still in an expected state (and matches `where`, extra
    conditions for the same UPDATE); True if this call won."""
    statuses = expected if isinstance(expected, (list, tuple)) else [expected]
    rows = Generation.objects.filter(pk=generation.pk, status__in=statuses, **(where or {}))
    won = rows.update(**fields) == 1
    if won:
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):
                setattr(generation, name, value)
    return won


def fail(generation: Generation, expected, code: str, message: str, **fields) -> bool:
    return update(
        generation,
        expected,
        status=fields.pop("status", Status.FAILED),
        error_code=code,
        error_message=message,
        finished_at=timezone.now(),
        next_poll_at=None,
        lease_until=None,
        **fields,
    )
