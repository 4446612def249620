"""The engine with a real qcluster process, fake vendors over HTTP, and workers that die."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone
from django_q.tasks import async_task

from studio.engine import jobs, store
from studio.engine.recovery import recover_generations
from studio.engine.services import create_generation
from studio.models import CreditEntry, Generation, Lease
from studio.vendors.demo import render_png
from tests.engine.conftest import KEY, credential
from tests.worker import wait_for

pytestmark = pytest.mark.slow
Status = Generation.Status

JOBS = {
    "girlgenerator": ("default", {}),
    "aioagi": ("gpt-image-2", {"size": "1024x1024"}),
    "lemondata": ("flux-pro", {"size": "512x512"}),
    "chatbp": ("dall-e-3", {"size": "1024x1024"}),
    "chatfire": ("seedream-3.0", {}),
}


def status_of(generation) -> str:
    generation.refresh_from_db()
    return generation.status


def ended(generation) -> bool:
    return status_of(generation) in Generation.ENDED


def test_jobs_for_every_vendor_and_the_demo_end_stored_by_a_real_worker(alice, start_fake, worker):
    fakes = {vendor: start_fake(vendor) for vendor in JOBS}
    generations = [
        create_generation(
            alice,
            vendor=vendor,
            credential=credential(alice, vendor),
            model=model,
            prompt=f"{vendor} lighthouse",
            params=params,
        )
        for vendor, (model, params) in JOBS.items()
    ]
    generations.append(create_generation(alice, vendor="demo", model="demo", prompt="a fox"))
    worker.start()
    for generation in generations:
        wait_for(lambda g=generation: ended(g), 60, message=f"{generation.vendor} never ended")
        assert generation.status == Status.SUCCEEDED, (generation.vendor, generation.error_message)
        assert generation.images.count() == 1
        assert CreditEntry.objects.filter(generation=generation).exists()
    for fake in fakes.values():
        assert len([r for r in fake.requests if r.method == "POST"]) == 1


def posts(fake):
    return [r for r in fake.requests if r.method == "POST"]


def test_a_worker_killed_mid_submit_leaves_an_unknown_outcome_never_a_second_post(
    alice, start_fake, worker
):
    fake = start_fake("aioagi", sync_s=30)  # the vendor takes its time to answer
    generation = create_generation(
        alice,
        vendor="aioagi",
        credential=credential(alice, "aioagi"),
        model="gpt-image-2",
        prompt="a lighthouse",
    )
    worker.start()
    wait_for(lambda: posts(fake), 30, message="the POST never arrived")
    worker.kill()
    assert status_of(generation) == Status.SUBMITTING
    assert generation.submitted_at is not None

    # Time passes: the submit lease runs out, and the sweep takes the job over.
    Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now())
    worker.start()
    recover_generations()
    assert status_of(generation) == Status.UNKNOWN_OUTCOME
    assert generation.may_have_charged
    time.sleep(2)  # give the restarted worker a chance to do something wrong
    assert len(posts(fake)) == 1


# The recovery sweep is a one-minute schedule, and django-q2's scheduler looks at schedules
# every 30 s: a sweep runs at most 90 s after the previous one.
SWEEP_INTERVAL = timedelta(seconds=90)


def sweep_every_minute() -> None:
    """The sweep's schedule as the migration makes it (the test database loses it between
    tests), due now."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="recover generations",
        defaults={
            "func": "studio.engine.tasks.recover_generations",
            "schedule_type": "I",
            "minutes": 1,
            "next_run": timezone.now(),
        },
    )


def test_a_job_killed_mid_submit_ends_within_one_sweep_of_its_deadline(alice, start_fake, worker):
    fake = start_fake("aioagi", sync_s=60)  # the vendor takes its time to answer
    generation = create_generation(
        alice,
        vendor="aioagi",
        credential=credential(alice, "aioagi"),
        model="gpt-image-2",
        prompt="a lighthouse",
    )
    deadline = timezone.now() + timedelta(seconds=8)
    Generation.objects.filter(pk=generation.pk).update(deadline=deadline)
    sweep_every_minute()
    worker.start()
    wait_for(lambda: posts(fake), 30, message="the POST never arrived")
    worker.kill()
    assert status_of(generation) == Status.SUBMITTING
    assert generation.submitted_at is not None
    assert generation.lease_until <= deadline

    # Nothing but the restarted cluster and its own schedule from here on.
    worker.start()
    wait_for(lambda: ended(generation), 150, interval=0.5, message="never ended")
    overshoot = generation.finished_at - deadline
    print(f"deadline overshoot after a kill mid-submit: {overshoot.total_seconds():.1f} s")
    assert overshoot <= SWEEP_INTERVAL
    assert generation.status == Status.UNKNOWN_OUTCOME
    assert generation.may_have_charged
    assert "deadline" in generation.error_message
    assert len(posts(fake)) == 1


def test_tasks_the_broker_lost_are_redone_by_the_scheduled_sweep(alice, start_fake, worker):
    """A task can be lost: with Redis, one a cluster had popped when it died (the broker does
    not acknowledge); with either broker, one whose sender died after its commit. Each job's
    own row says what remains to be done, and the minute sweep, on its own schedule, redoes
    it once the task's grace has passed: within one sweep (90 s) of that, never a second
    POST (docs/engine.md, "Redis")."""
    from django_q.brokers import get_broker

    fakes = [start_fake("girlgenerator"), start_fake("chatfire")]

    keys = {vendor: credential(alice, vendor) for vendor in ("girlgenerator", "chatfire")}

    def job(vendor, model):
        return create_generation(
            alice, vendor=vendor, credential=keys[vendor], model=model, prompt="x"
        )

    # A submit task lost: the job is still queued.
    queued = job("chatfire", "seedream-3.0")
    # A poller pass lost: the job is running and no pass holds the poller's lease.
    running = job("girlgenerator", "default")
    jobs.submit(running.pk)
    # A store task lost: the vendor delivered (chatfire answers at once) and no worker claimed
    # the image work.
    delivered = job("chatfire", "seedream-3.0")
    jobs.submit(delivered.pk)
    assert [status_of(g) for g in (queued, running, delivered)] == [
        Status.QUEUED,
        Status.RUNNING,
        Status.DOWNLOADING,
    ]
    get_broker().purge_queue()  # every task they had is gone
    # Their graces have passed.
    Generation.objects.filter(pk=queued.pk).update(lease_until=timezone.now())
    Generation.objects.filter(pk=delivered.pk).update(
        downloading_at=timezone.now() - store.STORE_QUEUE_GRACE
    )
    Lease.objects.filter(name__startswith="poller").update(expires_at=timezone.now())
    sweep_every_minute()
    started = time.monotonic()
    worker.start()  # nothing but the cluster and its schedule from here on
    for generation in (queued, running, delivered):
        wait_for(lambda g=generation: ended(g), 150, interval=0.5, message=generation.vendor)
        assert generation.status == Status.SUCCEEDED, generation.error_message
    took = time.monotonic() - started
    print(f"lost tasks redone by the scheduled sweep: all three jobs ended {took:.1f} s in")
    assert took <= SWEEP_INTERVAL.total_seconds()
    # One paid POST per job: girlgenerator's job, chatfire's two.
    assert [len(posts(fake)) for fake in fakes] == [1, 2]


def test_a_worker_killed_before_sending_is_submitted_after_restart(alice, start_fake, worker):
    fake = start_fake("girlgenerator")
    generation = create_generation(
        alice,
        vendor="girlgenerator",
        credential=credential(alice, "girlgenerator"),
        model="default",
        prompt="a lighthouse",
    )
    # A worker claimed it and died before the POST left.
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUBMITTING, lease_until=timezone.now() - timedelta(seconds=1)
    )
    worker.start()
    recover_generations()
    wait_for(lambda: ended(generation), 60, message="never ended")
    assert generation.status == Status.SUCCEEDED
    assert len(posts(fake)) == 1


def test_a_worker_killed_mid_poll_is_resumed_by_the_next_pass(alice, start_fake, worker):
    fake = start_fake("girlgenerator", pending_s=3, processing_s=1)
    generation = create_generation(
        alice,
        vendor="girlgenerator",
        credential=credential(alice, "girlgenerator"),
        model="default",
        prompt="a lighthouse",
    )
    worker.start()
    wait_for(lambda: status_of(generation) == Status.RUNNING, 30, message="never running")
    wait_for(
        lambda: [r for r in fake.requests if r.path.startswith("/api/v1/tasks/")],
        30,
        message="never polled",
    )
    worker.kill()
    assert status_of(generation) == Status.RUNNING

    # The dead poller's lease runs out; the minute sweep wakes a new pass.
    Lease.objects.filter(name__startswith="poller").update(expires_at=timezone.now())
    worker.start()
    recover_generations()
    wait_for(lambda: ended(generation), 60, message="never ended")
    assert generation.status == Status.SUCCEEDED
    assert len(posts(fake)) == 1


class SlowImage(BaseHTTPRequestHandler):
    png = render_png(64, 64, "slow", "slow")

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.png)))
        self.end_headers()
        try:
            for i in range(0, len(self.png), max(1, len(self.png) // 20)):
                self.wfile.write(self.png[i : i + max(1, len(self.png) // 20)])
                self.wfile.flush()
                time.sleep(0.25)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_worker_killed_mid_download_downloads_again(alice, worker, settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowImage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    # The operator's vendor hosts are the only private addresses downloads may reach.
    settings.STUDIO_VENDOR_URLS = {"chatbp": url}
    try:
        generation = create_generation(alice, vendor="demo", model="demo", prompt="x")
        Generation.objects.filter(pk=generation.pk).update(
            status=Status.DOWNLOADING,
            lease_until=timezone.now() - timedelta(seconds=1),
            pending_sources=[{"index": 0, "url": f"{url}/image.png", "expires_at": None}],
        )
        async_task("studio.engine.tasks.resume_download", generation.pk)
        worker.start()
        wait_for(
            lambda: Generation.objects.get(pk=generation.pk).lease_until > timezone.now(),
            30,
            message="the download never started",
        )
        time.sleep(1)
        worker.kill()
        assert status_of(generation) == Status.DOWNLOADING
        assert generation.images.count() == 0

        Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now())
        worker.start()
        recover_generations()
        wait_for(lambda: ended(generation), 60, message="never ended")
        assert generation.status == Status.SUCCEEDED
        assert generation.images.count() == 1
    finally:
        server.shutdown()
        server.server_close()


def windows_ok(times: list[float], limit: int, period: float) -> bool:
    times = sorted(times)
    return all(times[i + limit] - times[i] >= period for i in range(len(times) - limit))


@pytest.mark.parametrize("period", [6.0, 60.0], ids=["fast-clock", "real-minute"])
def test_many_jobs_on_one_girlgenerator_key_stay_within_its_rate_limit(
    period, alice, start_fake, worker, settings
):
    jobs = 12 if period < 60 else 7
    fake = start_fake("girlgenerator", rate_limit=(10, period))
    cred = credential(alice, "girlgenerator")
    generations = [
        create_generation(
            alice, vendor="girlgenerator", credential=cred, model="default", prompt=f"job {i}"
        )
        for i in range(jobs)
    ]
    worker.start(STUDIO_VENDOR_RATE_LIMITS=f'{{"girlgenerator": [10, {period}]}}')
    for generation in generations:
        wait_for(lambda g=generation: ended(g), 6 * period, message="a job never ended")
        assert generation.status == Status.SUCCEEDED, generation.error_message
    times = [r.time for r in fake.requests if r.key == KEY]
    assert len(times) >= 2 * jobs  # a submit and at least one poll each
    assert windows_ok(times, 10, period), "more than 10 requests in one window"
    assert not [r for r in fake.requests if r.path.startswith("/_fake")]


def test_no_key_in_queue_tables_logs_or_jobs_even_when_the_vendor_echoes_it(
    alice, start_fake, worker
):
    fake = start_fake("girlgenerator")
    fake.next_submit = "echo_auth"
    echoed = create_generation(
        alice,
        vendor="girlgenerator",
        credential=credential(alice, "girlgenerator"),
        model="default",
        prompt="first",
    )
    worker.start()
    wait_for(lambda: ended(echoed), 60, message="never ended")
    fine = create_generation(
        alice, vendor="girlgenerator", credential=echoed.credential, model="default", prompt="2"
    )
    wait_for(lambda: ended(fine), 60, message="never ended")
    worker.stop()

    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            for column in columns:
                cursor.execute(f'SELECT "{column}" FROM "{table}"')
                for (value,) in cursor.fetchall():
                    text = value.hex() if isinstance(value, bytes | memoryview) else str(value)
                    assert KEY not in text, f"key found in {table}.{column}"
                    assert KEY.encode().hex() not in text, f"key found in {table}.{column}"
    assert KEY not in worker.output()
    assert "[redacted]" in echoed.error_message  # the echo was seen, and scrubbed
