"""Keyset paging on (created_at, id), newest first: every page costs the same, however deep.

OFFSET paging reads and throws away every row before the page; a cursor names the last row
shown and the next page starts strictly after it, through the (owner, -created_at, -id) index.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import Q, QuerySet

from studio.web.params import parse_id


def cursor_of(row) -> str:
    return f"{row.created_at.isoformat()}~{row.pk}"


def parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    when, _, last_id = (text or "").rpartition("~")
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        return None
    pk = parse_id(last_id)
    if pk is None or moment.tzinfo is None:
        return None
    try:
        # The database compares in UTC, where 0001-01-01T00:00+01:00 does not exist.
        return moment.astimezone(UTC), pk
    except OverflowError:
        return None


def keyset_page(queryset: QuerySet, cursor: str | None, size: int) -> tuple[list, str | None]:
    """One page of rows after `cursor`, and the cursor of the next page (None on the last)."""
    queryset = queryset.order_by("-created_at", "-pk")
    after = parse_cursor(cursor)
    if after:
        moment, pk = after
        queryset = queryset.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
    rows = list(queryset[: size + 1])
    if len(rows) > size:
        return rows[:size], cursor_of(rows[size - 1])
    return rows, None
