"""Django's Redis cache, sharing its Redis database with the task queue (STUDIO_QUEUE_URL)."""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache


class RedisCache(DjangoRedisCache):
    def clear(self) -> bool:
        """Removes the cache's own keys only. Django's clear() is FLUSHDB, which would also
        drop every queued task (django-q2 keeps its queue under django_q:… in this database)."""
        client = self._cache.get_client(None, write=True)
        removed = False
        for keys in batched(client.scan_iter(match=f"{self.key_prefix}:*", count=500), 500):
            removed = bool(client.unlink(*keys)) or removed
        return removed


def batched(iterable, size: int):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
