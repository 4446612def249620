from __future__ import annotations

import time

import pytest
from django.conf import settings
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from accounts.vault import add_credential
from studio.engine import jobs, store
from studio.engine.poller import poll_due_generations
from studio.models import Generation
from studio.vendors.fakes import FakeVendor

KEY = "sk-engine-7c2f9a41d3b8e6"


@pytest.fixture(autouse=True)
def engine_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # The fakes finish in a fraction of a second: poll on the same fast clock.
    settings.STUDIO_POLL_SCALE = 0.02
    settings.STUDIO_VENDOR_URLS = {}


@pytest.fixture
def start_fake(settings):
    started = []

    def start(vendor: str, credits: float = 100, **options):
        fake = FakeVendor(vendor, **options).start()
        fake.add_key(KEY, credits=credits, management_token="mt-engine-1234567")
        started.append(fake)
        settings.STUDIO_VENDOR_URLS = {**settings.STUDIO_VENDOR_URLS, vendor: fake.url}
        return fake

    yield start
    for fake in started:
        fake.stop()


class QueuedTask:
    """A task waiting in the queue, read the same way from either broker."""

    def __init__(self, payload):
        self.payload = payload  # as the broker holds it: signed, readable, never a key
        self.task = SignedPackage.loads(payload)

    def func(self) -> str:
        return self.task["func"]


def queued_tasks() -> list[QueuedTask]:
    """What waits in the configured broker: the ORM's task rows, or the Redis list."""
    broker = get_broker()
    if "redis" in settings.Q_CLUSTER:
        payloads = broker.connection.lrange(broker.list_key, 0, -1)
    else:
        payloads = OrmQ.objects.filter(key=broker.list_key).values_list("payload", flat=True)
    return [QueuedTask(payload) for payload in payloads]


def drop_queued_tasks() -> None:
    """Every waiting task lost: died with a worker, or popped by a cluster that then died."""
    get_broker().purge_queue()


def credential(user, vendor: str, key: str = KEY):
    return add_credential(user, vendor, f"{vendor} key", key)


def run_store_tasks() -> None:
    """The image work of finished jobs: a queue task of its own (store_generation), which a
    worker would run; here, in this process."""
    for pk in Generation.objects.filter(
        status=Generation.Status.DOWNLOADING, lease_until__isnull=True
    ).values_list("pk", flat=True):
        store.store_pending(pk)


def drive(generation: Generation, timeout: float = 20) -> Generation:
    """Runs the engine in this process until the job ends: what the worker would do."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pk in Generation.objects.filter(
            status=Generation.Status.QUEUED, next_poll_at__isnull=True
        ).values_list("pk", flat=True):
            jobs.submit(pk)
        run_store_tasks()
        generation.refresh_from_db()
        if generation.status in Generation.ENDED:
            return generation
        poll_due_generations(pass_seconds=0.3)
    generation.refresh_from_db()
    raise AssertionError(f"job still {generation.status} after {timeout} s")
