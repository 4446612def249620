"""Redis as the queue broker and cache when STUDIO_QUEUE_URL is set (issue #18, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from studio import settings as studio_settings
from studio.settings import BASE_DIR


def test_a_redis_url_is_read_into_client_settings():
    assert studio_settings.redis_settings("redis://127.0.0.1:6380/3") == {
        "host": "127.0.0.1",
        "port": 6380,
        "db": 3,
    }
    assert studio_settings.redis_settings("rediss://app:p%40ss@redis.internal/0") == {
        "host": "redis.internal",
        "port": 6379,
        "db": 0,
        "username": "app",
        "password": "p@ss",
        "ssl": True,
    }


@pytest.mark.parametrize(
    "url", ["amqp://127.0.0.1/", "redis:///0", "redis://127.0.0.1:6379/queue", "127.0.0.1:6379"]
)
def test_a_bad_redis_url_names_the_setting(url):
    with pytest.raises(ImproperlyConfigured, match="STUDIO_QUEUE_URL"):
        studio_settings.redis_settings(url)


def settings_with(env: dict[str, str]) -> str:
    """The queue and cache settings a fresh process derives from `env`."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(sorted(k for k in ('orm', 'redis') if k in s.Q_CLUSTER), "
        "s.CACHES['default']['BACKEND'], s.CACHES['default'].get('LOCATION'))"
    )
    environ = {k: v for k, v in os.environ.items() if k != "STUDIO_QUEUE_URL"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**environ, "DJANGO_SETTINGS_MODULE": "studio.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_the_orm_broker_and_database_cache_stay_the_default():
    assert settings_with({}) == ("['orm'] django.core.cache.backends.db.DatabaseCache studio_cache")


def test_a_queue_url_moves_the_broker_and_the_cache_to_redis():
    line = settings_with({"STUDIO_QUEUE_URL": "redis://:s3cret-pw@127.0.0.1:6379/7"})
    assert line == "['redis'] studio.cache.RedisCache redis://127.0.0.1:6379/7"
    assert "s3cret" not in line  # the password is a client option, not part of a URL


@pytest.mark.skipif("redis" not in settings.Q_CLUSTER, reason="runs with STUDIO_QUEUE_URL set")
def test_clearing_the_cache_keeps_the_queued_tasks():
    from django.core.cache import cache
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    broker.enqueue("a task")
    cache.set("pacing", [1.0])
    cache.clear()
    assert cache.get("pacing") is None
    assert broker.queue_size() == 1
    broker.purge_queue()
