"""Two polling processes, one killed mid-pass: its shards move to the survivor, no job is lost
and no key is polled past its budget."""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection
from django.utils import timezone

from accounts.vault import add_credential
from studio.engine.enqueue import wake_poller
from studio.engine.services import create_generation
from studio.models import Generation, Lease, RateBudget
from tests.worker import Worker, wait_for

pytestmark = pytest.mark.slow
Status = Generation.Status
PERIOD = 6.0  # girlgenerator's 10 requests a minute, on a ten-times faster clock
LEASE = 3


def windows_ok(times: list[float], limit: int, period: float) -> bool:
    times = sorted(times)
    return all(times[i + limit] - times[i] >= period for i in range(len(times) - limit))


def cluster_of(holder: str, workers: dict[str, Worker]) -> str | None:
    """Which cluster a lease holder ("host:pid:token") runs in: by its process group."""
    pid = int(holder.split(":")[1])
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return None  # the process is gone
    return next((name for name, w in workers.items() if w.proc.pid == group), None)


def shard_clusters(workers: dict[str, Worker]) -> dict[str, str | None]:
    """Each held shard's cluster (None: its holder is dead)."""
    leases = Lease.objects.filter(
        name__startswith="poller:", expires_at__gt=timezone.now()
    ).exclude(holder="")
    return {lease.name: cluster_of(lease.holder, workers) for lease in leases}


@pytest.fixture
def clusters(transactional_db, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip(
            "several polling processes sharing a database is the PostgreSQL topology (SQLite "
            "runs one pass); run with DATABASE_URL=postgres://… (CI's .ci/run does)"
        )
    workers = {}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        workers[name] = Worker(tmp_path / name)
    yield workers
    for worker in workers.values():
        worker.stop()


def test_a_polling_process_killed_mid_pass_hands_its_shards_to_the_survivor(
    alice, start_fake, clusters
):
    limited = start_fake("girlgenerator", rate_limit=(10, PERIOD), pending_s=10, processing_s=10)
    relay = start_fake("chatbp", pending_s=10, processing_s=10)
    keys = []
    for vendor, fake, model in (
        ("girlgenerator", limited, "default"),
        ("chatbp", relay, "dall-e-3"),
    ):
        for n in range(3):
            secret = f"sk-failover-{vendor}-{n}-0123456789"
            fake.add_key(secret)
            keys.append((add_credential(alice, vendor, f"key {n}", secret), model, secret))
    generations = [
        create_generation(
            alice, vendor=cred.vendor, credential=cred, model=model, prompt=f"job {n}"
        )
        for cred, model, _ in keys
        for n in range(2)
    ]
    assert len({g.shard for g in generations}) > 1, "every key in one shard: pick other keys"
    env = {
        "STUDIO_POLLERS": "2",
        "STUDIO_POLL_LEASE_SECONDS": str(LEASE),
        "STUDIO_VENDOR_RATE_LIMITS": f'{{"girlgenerator": [10, {PERIOD}]}}',
    }
    # a runs one worker: it submits every job, then its worker runs one poller pass and stays
    # there. b (started next) runs the other pass and everything else.
    clusters["a"].start(STUDIO_WORKERS="1", **env)
    wait_for(
        lambda: "a" in shard_clusters(clusters).values(), 60, message="a never started polling"
    )
    assert not Generation.objects.exclude(status=Status.RUNNING).exists()
    clusters["b"].start(STUDIO_WORKERS="3", **env)

    def both_poll():
        wake_poller()  # as the minute sweep would: two passes are wanted
        return set(shard_clusters(clusters).values()) == {"a", "b"}

    wait_for(both_poll, 60, interval=1, message="the shards were never shared by a and b")
    shared = shard_clusters(clusters)
    print("before the kill:", sorted(shared.values()))
    assert not Generation.objects.exclude(status=Status.RUNNING).exists(), "killed too late"
    clusters["a"].kill()
    killed_at = time.monotonic()

    # a's leases run out, and b's passes take every shard (the survivor counts one live pass
    # fewer, so its fair share grows).
    def all_on_b():
        held = shard_clusters(clusters)
        return len(held) == 16 and set(held.values()) == {"b"}

    wait_for(all_on_b, LEASE + 10, message="a's shards never moved to b")
    print(f"every shard held by b {time.monotonic() - killed_at:.1f} s after the kill")

    def all_ended():
        wake_poller()
        return not Generation.objects.exclude(status__in=Generation.ENDED).exists()

    wait_for(all_ended, 60, interval=1, message="jobs still in flight")
    for generation in generations:
        generation.refresh_from_db()
        assert generation.status == Status.SUCCEEDED, generation.error_message
        assert generation.images.count() == 1
    # No key past its budget in any window, and never a 429 (it would have blocked the key).
    for _, _, secret in keys[:3]:
        times = sorted(r.time for r in limited.requests if r.key == secret)
        assert len(times) >= 4  # two submits and at least a poll each
        assert windows_ok(times, 10, PERIOD), f"more than 10 requests in {PERIOD} s"
        busiest = max(sum(1 for u in times if t <= u < t + PERIOD) for t in times)
        print(f"girlgenerator key: {len(times)} requests, at most {busiest} in {PERIOD} s")
    assert not RateBudget.objects.filter(blocked_until__isnull=False).exists()
    # One paid submit per job on each vendor.
    for fake in (limited, relay):
        assert len([r for r in fake.requests if r.method == "POST"]) == 6
