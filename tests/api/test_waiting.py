"""Waiting for jobs: one poll loop per event loop wakes every waiter of a job that ended."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection

from studio.api import waiting
from studio.models import Generation
from tests.web.conftest import make_job


def finish(pk: int) -> None:
    """What a worker does, on a thread of its own whose connection it closes (PostgreSQL would
    not drop the test database with it open)."""
    try:
        Generation.objects.filter(pk=pk).update(status=Generation.Status.SUCCEEDED)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_every_waiter_wakes_when_its_job_ends_and_a_timeout_is_false(alice, monkeypatch):
    monkeypatch.setattr(waiting, "TICK", 0.05)
    job, other = make_job(alice), make_job(alice)
    looks = []
    real = waiting.ended_among
    monkeypatch.setattr(waiting, "ended_among", lambda ids: looks.append(ids) or real(ids))

    async def scenario():
        first = asyncio.create_task(waiting.wait_for_job(job.pk, 10))
        second = asyncio.create_task(waiting.wait_for_job(job.pk, 10))
        assert await waiting.wait_for_job(other.pk, 0.2) is False
        await sync_to_async(finish, thread_sensitive=False)(job.pk)
        return await first, await second

    # In a thread of its own: Playwright's session-wide loop may be running in this one.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, scenario()).result() == (True, True)
    # One look per tick for all the waiters, never one per waiter.
    assert any(sorted(ids) == sorted({job.pk, other.pk}) for ids in looks)
    assert all(len(ids) == len(set(ids)) for ids in looks)


@pytest.mark.django_db(transaction=True)
def test_a_waiting_request_holds_no_database_connection(alice, monkeypatch):
    # A hundred waiting clients each kept theirs, and on PostgreSQL took every connection the
    # server allows: the other pages failed (benchmarks/README.md, api).
    monkeypatch.setattr(waiting, "TICK", 0.05)
    job = make_job(alice)
    holds = []

    async def scenario():
        # The request's own ORM calls, on its thread: they open its connection.
        await sync_to_async(lambda: Generation.objects.filter(pk=job.pk).exists())()
        holds.append(await sync_to_async(lambda: connection.connection is not None)())
        wait = asyncio.create_task(waiting.wait_for_job(job.pk, 10))
        await asyncio.sleep(0.2)  # waiting now
        holds.append(await sync_to_async(lambda: connection.connection is not None)())
        await sync_to_async(finish, thread_sensitive=False)(job.pk)
        return await wait

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, scenario()).result() is True
    assert holds == [True, False]


@pytest.mark.django_db(transaction=True)
def test_a_look_that_fails_is_tried_again_at_the_next_tick(alice, monkeypatch):
    # No free connection for a moment must not leave every waiter to its timeout.
    monkeypatch.setattr(waiting, "TICK", 0.05)
    job = make_job(alice)
    finish(job.pk)
    looks = []
    real = waiting.ended_among

    def first_fails(ids):
        looks.append(ids)
        if len(looks) == 1:
            raise OperationalError("FATAL:  sorry, too many clients already")
        return real(ids)

    monkeypatch.setattr(waiting, "ended_among", first_fails)
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, waiting.wait_for_job(job.pk, 3)).result() is True
    assert len(looks) == 2
