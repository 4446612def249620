"""Waiting for jobs without holding a worker: one poll loop per event loop for every waiter.

A request that waits for its job awaits a future; one task per event loop (per web process
under uvicorn) reads which of the awaited jobs have ended, in one query per tick, and resolves
their futures. A hundred waiting clients thus cost one query a tick and no thread each, and
the queue workers never wait at all (they poll vendors on their own schedule).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection

from studio.models import Generation

log = logging.getLogger(__name__)

TICK = 0.5  # seconds between looks at the awaited jobs


def ended_among(ids: list[int]) -> set[int]:
    try:
        return set(
            Generation.objects.filter(pk__in=ids, status__in=Generation.ENDED).values_list(
                "pk", flat=True
            )
        )
    finally:
        # This runs on a shared executor thread that no request owns: its connection is
        # closed here, not left open for Django's request signals that never come.
        connection.close()


def release_connection() -> None:
    """Closes the waiting request's database connection (on the thread that runs its ORM
    calls) for the wait: each waiting client kept one open for minutes, and on PostgreSQL a
    hundred of them took every connection the server allows, so that every other page failed
    (benchmarks/README.md, api). The request's next query opens a new one. Never inside a
    transaction: an async view is not atomic, so that is a test's own."""
    if not connection.in_atomic_block:
        connection.close()


class _Waiters:
    def __init__(self) -> None:
        self.futures: dict[int, list[asyncio.Future]] = defaultdict(list)
        self.task: asyncio.Task | None = None

    async def run(self) -> None:
        while self.futures:
            try:
                ended = await sync_to_async(ended_among, thread_sensitive=False)(list(self.futures))
            except DatabaseError:
                # The database is out of reach for a moment (a restart, no free connection):
                # every waiter would otherwise wait out its timeout. The next tick looks again.
                log.warning("Could not read the awaited jobs; trying again.", exc_info=True)
                ended = set()
            for pk in ended:
                for future in self.futures.pop(pk, []):
                    if not future.done():
                        future.set_result(True)
            if self.futures:
                await asyncio.sleep(TICK)


_by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def wait_for_job(pk: int, timeout: float) -> bool:
    """True once job `pk` has ended, False if `timeout` seconds pass first."""
    await sync_to_async(release_connection)()
    loop = asyncio.get_running_loop()
    waiters = _by_loop.setdefault(loop, _Waiters())
    future = loop.create_future()
    waiters.futures[pk].append(future)
    if waiters.task is None or waiters.task.done():
        waiters.task = loop.create_task(waiters.run())
    try:
        await asyncio.wait_for(future, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        remaining = [f for f in waiters.futures.get(pk, []) if f is not future]
        if remaining:
            waiters.futures[pk] = remaining
        else:
            waiters.futures.pop(pk, None)
        if not waiters.futures and waiters.task and not waiters.task.done():
            waiters.task.cancel()
