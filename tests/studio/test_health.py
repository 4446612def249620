from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from studio.health import HEARTBEAT_KEY, heartbeat


def test_it_reports_database_ok_and_no_worker(client, db):
    cache.delete(HEARTBEAT_KEY)
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"database": "ok", "worker": "not seen", "worker_seen_seconds_ago": None}


def test_it_reports_a_recent_worker(client, db):
    heartbeat()
    r = client.get("/healthz")
    assert r.json()["worker"] == "ok"
    assert r.json()["worker_seen_seconds_ago"] == 0


def test_it_reports_a_stale_worker(client, db):
    cache.set(HEARTBEAT_KEY, (timezone.now() - timedelta(minutes=10)).isoformat())
    r = client.get("/healthz")
    assert r.json()["worker"] == "stale"


def test_the_heartbeat_is_scheduled(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="studio.health.heartbeat")
    assert schedule.schedule_type == Schedule.MINUTES
