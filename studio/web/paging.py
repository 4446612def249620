"""Keyset paging on (created_at, id), newest first: every page costs the same, however deep.

OFFSET paging reads and throws away every row before the page; a cursor names the last row
shown and the next page starts strictly after it, through the (owner, -created_at, -id) index.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet


def cursor_of(row) -> str:
    return f"{row.created_at.isoformat()}~{row.pk}"


def parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    when, _, pk = (text or "").rpartition("~")
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        return None
    if not pk.isdigit() or moment.tzinfo is None:
        return None
    return moment, int(pk)


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
