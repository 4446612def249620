"""Liveness of the studio: the database answers, and a queue worker was seen recently."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

HEARTBEAT_KEY = "studio:worker-heartbeat"
# Workers beat after every task and from a once-a-minute schedule, which django-q2's scheduler
# runs up to 30 s late: three minutes of silence means no worker is running.
WORKER_STALE_AFTER = 180


def record_worker_heartbeat(**_signal_kwargs) -> None:
    cache.set(HEARTBEAT_KEY, timezone.now().isoformat(), timeout=WORKER_STALE_AFTER * 10)


def heartbeat() -> None:
    """Scheduled task: lets an idle worker show it is alive."""
    record_worker_heartbeat()


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:
        database = "unavailable"

    worker, seen_seconds_ago = "not seen", None
    if database == "ok":
        try:
            seen = cache.get(HEARTBEAT_KEY)
        except Exception:
            seen = None
        if seen:
            age = (timezone.now() - timezone.datetime.fromisoformat(seen)).total_seconds()
            seen_seconds_ago = round(age)
            worker = "ok" if age <= WORKER_STALE_AFTER else "stale"

    body = {"database": database, "worker": worker, "worker_seen_seconds_ago": seen_seconds_ago}
    # A missing worker degrades the studio (jobs wait) but the web app still serves: only a
    # dead database makes the check fail.
    return JsonResponse(body, status=200 if database == "ok" else 503)
