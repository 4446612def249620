"""Two `qcluster` processes sharing one PostgreSQL database, as two hosts would."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.db import connection
from django_q.models import Success

from studio.engine.services import create_generation
from studio.models import Generation
from tests.engine.conftest import credential
from tests.worker import Worker, wait_for

pytestmark = pytest.mark.slow
Status = Generation.Status
JOBS = 20
SUBMIT_LINE = re.compile(r"processing submit (\d+) 'studio\.engine\.tasks\.submit_generation'")


@pytest.fixture
def two_workers(transactional_db, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip(
            "several qcluster processes sharing a database is the PostgreSQL topology; run with "
            "DATABASE_URL=postgres://… (CI's .ci/run does)"
        )
    workers = []
    for name in ("host-a", "host-b"):
        (tmp_path / name).mkdir()
        workers.append(Worker(tmp_path / name))
    yield workers
    for worker in workers:
        worker.stop()


def submits_in(worker: Worker) -> list[int]:
    return [int(pk) for pk in SUBMIT_LINE.findall(worker.output())]


def test_jobs_are_spread_across_two_clusters_and_none_is_done_twice(alice, start_fake, two_workers):
    # A synchronous vendor that takes half a second: each submit holds a worker for a while,
    # as a real vendor does, so one cluster cannot drain the queue before the other wakes.
    fake = start_fake("aioagi", sync_s=0.5)
    for worker in two_workers:
        worker.start(STUDIO_WORKERS="2")
    for worker in two_workers:
        wait_for(
            lambda w=worker: w.output().count("ready for work") >= 2,
            60,
            message="a cluster never started",
        )
    key = credential(alice, "aioagi")
    generations = [
        create_generation(
            alice,
            vendor="aioagi",
            credential=key,
            model="gpt-image-2",
            prompt=f"job {n}: a lighthouse",
            params={"size": "1024x1024"},
        )
        for n in range(JOBS)
    ]

    def all_ended():
        return not Generation.objects.exclude(status__in=Generation.ENDED).exists()

    wait_for(all_ended, 120, interval=0.5, message="jobs still in flight")
    for generation in generations:
        generation.refresh_from_db()
        assert generation.status == Status.SUCCEEDED, generation.error_message
        assert generation.images.count() == 1

    # Which cluster ran each submit, from each cluster's own log.
    by_worker = [submits_in(worker) for worker in two_workers]
    ran = Counter(pk for pks in by_worker for pk in pks)
    assert set(ran) == {g.pk for g in generations}
    assert all(count == 1 for count in ran.values()), "a submit task ran twice"
    assert all(by_worker), f"one cluster did every submit: {[len(p) for p in by_worker]}"
    # django-q2's own record agrees: one successful submit task per job.
    assert Success.objects.filter(func="studio.engine.tasks.submit_generation").count() == JOBS
    # And the vendor saw exactly one paid request per job.
    prompts = Counter(body["prompt"] for path, body in fake.bodies)
    assert prompts == Counter({g.prompt: 1 for g in generations})
    print(f"submits per cluster: {[len(p) for p in by_worker]}")
