"""Image work off the poller (issue #18, item 1): a finished job is handed over to a queue task
of its own, stored once however many workers get that task, with no image bytes and no key in
the task's payload, and a URL that would expire in the queue fetched at once."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from studio.engine import jobs, store
from studio.engine.images import process
from studio.engine.poller import poll_due_generations
from studio.engine.recovery import recover_generations
from studio.engine.services import create_generation
from studio.models import Generation, Image
from tests.engine.conftest import KEY, QueuedTask, credential, drop_queued_tasks, queued_tasks

pytestmark = pytest.mark.django_db(transaction=True)
Status = Generation.Status


def store_tasks() -> list[QueuedTask]:
    return [t for t in queued_tasks() if t.func() == "studio.engine.tasks.store_generation"]


def until_handed_over(generation: Generation, timeout: float = 10) -> Generation:
    """Runs submit and poller passes (no store task) until the vendor has finished."""
    deadline = timezone.now() + timedelta(seconds=timeout)
    jobs.submit(generation.pk)
    while timezone.now() < deadline:
        generation.refresh_from_db()
        if generation.status != Status.RUNNING:
            return generation
        poll_due_generations(pass_seconds=0.3)
    raise AssertionError(f"job still {generation.status}")


def chatfire(alice, **params):
    return create_generation(
        alice,
        vendor="chatfire",
        credential=credential(alice, "chatfire"),
        model="seedream-3.0",
        prompt="a lighthouse",
        params={"size": "1024x1024", **params},
    )


def test_the_poller_hands_a_finished_job_over_without_touching_its_images(
    alice, start_fake, monkeypatch
):
    start_fake("chatfire")
    decoded_in: list[str] = []

    def spy(data):
        decoded_in.append(threading.current_thread().name)
        return process(data)

    monkeypatch.setattr(store.images, "process", spy)
    generation = until_handed_over(chatfire(alice, n=2))
    # The poller only remembered the URLs and enqueued the work.
    assert generation.status == Status.DOWNLOADING
    assert generation.lease_until is None
    assert [s["index"] for s in generation.pending_sources] == [0, 1]
    assert decoded_in == []
    assert Image.objects.count() == 0
    (task,) = store_tasks()
    assert task.task["args"] == (generation.pk,)
    assert KEY not in str(task.task)
    # Any worker then does the image work.
    store.store_pending(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.images.count() == 2
    assert len(decoded_in) == 2 and not any(name.startswith("poll") for name in decoded_in)


def test_base64_images_are_staged_in_storage_not_carried_by_the_task(alice):
    generation = create_generation(
        alice, vendor="demo", model="demo", prompt="a fox", params={"n": 2}
    )
    generation = until_handed_over(generation)
    assert generation.status == Status.DOWNLOADING
    staged = [s["staged"] for s in generation.pending_sources]
    assert all(name.startswith(f"incoming/{generation.pk}/") for name in staged)
    assert all(default_storage.exists(name) for name in staged)
    (task,) = store_tasks()
    assert len(task.payload) < 1000  # the id, not a megapixel PNG
    store.store_pending(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.images.count() == 2
    # Served their purpose: the staged copies are gone, the stored images remain.
    assert not any(default_storage.exists(name) for name in staged)
    assert all(default_storage.exists(image.file.name) for image in generation.images.all())


def test_two_workers_with_the_same_task_store_each_image_once(alice, monkeypatch):
    generation = until_handed_over(
        create_generation(alice, vendor="demo", model="demo", prompt="a fox", params={"n": 2})
    )
    decoded = []
    both_started = threading.Barrier(2, timeout=10)

    def slow(data):
        decoded.append(data)
        return process(data)

    monkeypatch.setattr(store.images, "process", slow)

    def worker():
        try:
            both_started.wait()
            store.store_pending(generation.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # A redelivered task after the job ended finds nothing to do.
    store.store_pending(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert Image.objects.filter(generation=generation).count() == 2
    assert len(decoded) == 2  # one claim won: the other worker decoded nothing


def test_a_url_that_would_expire_in_the_queue_is_fetched_at_once(alice, start_fake):
    # The vendor's links live 2 minutes: less than a queue may take (store.URGENT_URL).
    fake = start_fake("chatfire", file_ttl=120.0)
    generation = until_handed_over(chatfire(alice))
    (entry,) = generation.pending_sources
    assert entry["staged"]
    fake.stop()  # the vendor (and its link) is gone before a worker gets to the job
    store.store_pending(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.images.count() == 1


def test_a_lasting_url_is_left_to_the_task(alice, start_fake):
    fake = start_fake("chatfire")  # links live an hour
    generation = until_handed_over(chatfire(alice))
    (entry,) = generation.pending_sources
    assert entry["staged"] == ""
    assert not [r for r in fake.requests if r.method == "GET" and r.path.startswith("/files/")]


def test_a_lost_store_task_is_enqueued_again_by_the_sweep(alice):
    generation = until_handed_over(
        create_generation(alice, vendor="demo", model="demo", prompt="a fox")
    )
    drop_queued_tasks()  # the task died with a worker (or Redis lost it)
    recover_generations()
    assert store_tasks() == []  # still within its grace: it may just be waiting in the queue
    Generation.objects.filter(pk=generation.pk).update(
        downloading_at=timezone.now() - store.STORE_QUEUE_GRACE - timedelta(seconds=1)
    )
    recover_generations()
    assert len(store_tasks()) == 1
    store.store_pending(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED


def stage(generation_pk: int, age: timedelta | None = None) -> str:
    """A staged file as a hand-over writes it, `age` old."""
    name = default_storage.save(f"{store.STAGING}/{generation_pk}/0.bin", ContentFile(b"png"))
    if age:
        then = time.time() - age.total_seconds()
        os.utime(default_storage.path(name), (then, then))
    return name


def test_the_sweep_deletes_stale_staged_files_that_no_download_refers_to(alice):
    def job(status, **fields):
        generation = create_generation(alice, vendor="demo", model="demo", prompt="x")
        Generation.objects.filter(pk=generation.pk).update(status=status, **fields)
        return generation

    stale = store.STAGED_MAX_AGE + timedelta(minutes=1)
    # A worker died after writing the file, before the row named it: the job stayed running.
    died_mid_handover = stage(job(Status.RUNNING).pk, stale)
    # A job that ended without its store task deleting its file, and a job since deleted.
    ended = stage(job(Status.FAILED).pk, stale)
    deleted_job = job(Status.SUCCEEDED)
    of_deleted_job = stage(deleted_job.pk, stale)
    deleted_job.delete()
    # Kept: a hand-over under way (file written, row not yet updated), and a download's file.
    being_handed_over = stage(job(Status.RUNNING).pk, timedelta(minutes=1))
    downloading = job(Status.DOWNLOADING)
    referenced = stage(downloading.pk, stale)
    Generation.objects.filter(pk=downloading.pk).update(
        pending_sources=[{"index": 0, "url": None, "expires_at": None, "staged": referenced}],
        downloading_at=timezone.now(),
    )

    recover_generations()
    assert not default_storage.exists(died_mid_handover)
    assert not default_storage.exists(ended)
    assert not default_storage.exists(of_deleted_job)
    assert default_storage.exists(being_handed_over)
    assert default_storage.exists(referenced)

    # An hour on, the folders emptied above go too (local storage keeps empty folders), the
    # unfinished hand-over's file is an orphan by now, and the download's file stays.
    later = timezone.now() + stale
    assert store.discard_orphaned_staged(later) == 1
    assert not default_storage.exists(being_handed_over)
    assert default_storage.exists(referenced)
    assert default_storage.listdir(store.STAGING)[0] == [str(downloading.pk)]


def test_a_sweep_with_nothing_staged_yet_does_nothing(alice):
    assert not default_storage.exists(store.STAGING)
    assert store.discard_orphaned_staged(timezone.now()) == 0
