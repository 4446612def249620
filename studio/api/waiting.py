"""Waiting for jobs without holding a worker: one poll loop per event loop for every waiter.

A request that waits for its job awaits a future; one task per event loop (per web process
under uvicorn) reads which of the awaited jobs have ended, in one query per tick, and resolves
their futures. A hundred waiting clients thus cost one query a tick and no thread each, and
the queue workers never wait at all (they poll vendors on their own schedule).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict

from asgiref.sync import sync_to_async
from django.db import connection

from studio.models import Generation

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


class _Waiters:
    def __init__(self) -> None:
        self.futures: dict[int, list[asyncio.Future]] = defaultdict(list)
        self.task: asyncio.Task | None = None

    async def run(self) -> None:
        while self.futures:
            ended = await sync_to_async(ended_among, thread_sensitive=False)(list(self.futures))
            for pk in ended:
                for future in self.futures.pop(pk, []):
                    if not future.done():
                        future.set_result(True)
            if self.futures:
                await asyncio.sleep(TICK)


_by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def wait_for_job(pk: int, timeout: float) -> bool:
    """True once job `pk` has ended, False if `timeout` seconds pass first."""
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
