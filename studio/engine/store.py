"""Keeping a finished job's images: decoded or downloaded, checked, stored, before they expire."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from studio.engine import enqueue, images, ledger
from studio.engine.safehttp import DownloadRefused, download, guarded_client
from studio.engine.state import fail, update
from studio.models import Generation, Image
from studio.vendors import ADAPTERS, base_url_for
from studio.vendors.base import ErrorCode, ImageSource

Status = Generation.Status


def allowed_hosts() -> list[tuple[str, int]]:
    """Vendors' own hosts (as the operator configured them) may be private, e.g. in tests."""
    hosts = []
    for vendor, adapter in ADAPTERS.items():
        urls = [base_url_for(vendor), *adapter.mirrors.values()]
        for url in filter(None, urls):
            parsed = httpx.URL(url)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            hosts.append((parsed.host, port))
    return hosts


def source_dict(index: int, source: ImageSource) -> dict:
    expires = source.expires_at.isoformat() if source.expires_at else None
    return {"index": index, "url": source.url, "expires_at": expires, "staged": ""}


def download_lease(count: int) -> timedelta:
    return timedelta(seconds=settings.STUDIO_DOWNLOAD_DEADLINE * max(count, 1) + 60)


# A finished job's store task should start within this time; past it the recovery sweep
# enqueues another (a duplicate finds the job claimed, or done, and does nothing).
STORE_QUEUE_GRACE = timedelta(minutes=2)
# A vendor URL that expires sooner than this after the vendor finished is fetched at once by
# whoever saw the result (the poller), so a queue backlog cannot outlive the link; its bytes are
# then staged like a base64 result's, and only the image work waits for a worker.
URGENT_URL = timedelta(minutes=5)
STAGING = "incoming"


def hand_over(generation: Generation, sources: list[ImageSource], enqueue_task=True) -> bool:
    """The vendor has finished (the job is `downloading`): remember where its images are, and
    leave the download, decoding, thumbnails and storing to a queue task on any worker.

    Called by the poller's threads and by a synchronous submit, so it does no image work.
    Images that came as bytes (base64 in the reply) are written once, as they are, to the media
    storage under incoming/: the task payload carries the job's id only, never image bytes (the
    queue is a database table or Redis, not a file store) and never a key."""
    if not sources:
        fail(
            generation,
            Status.DOWNLOADING,
            ErrorCode.NO_IMAGES,
            "The vendor reported success but sent no images. It may have charged for the job.",
            may_have_charged=True,
        )
        return False
    now = timezone.now()
    pending = []
    for index, source in enumerate(sources):
        entry = source_dict(index, source)
        data = source.data
        if data is None and source.expires_at and source.expires_at - now < URGENT_URL:
            data = fetch_now(source.url)
        if data is not None:
            entry["staged"] = default_storage.save(
                f"{STAGING}/{generation.pk}/{index}.bin", ContentFile(data)
            )
        pending.append(entry)
    with transaction.atomic():
        # Unclaimed (lease_until empty) until a worker's store task claims it. The deadline
        # leaves room for the wait in the queue and the download lease (see download_deadline).
        won = update(
            generation,
            Status.DOWNLOADING,
            pending_sources=pending,
            lease_until=None,
            deadline=download_deadline(
                generation, now + STORE_QUEUE_GRACE + download_lease(len(sources))
            ),
        )
        if won and enqueue_task:
            enqueue.store(generation.pk)
    if not won:
        discard_staged(pending)
    return won


def fetch_now(url: str | None) -> bytes | None:
    """An expiring URL's bytes, fetched under the same guard as the task's downloads; None if
    refused (the task then meets the same refusal and handles it, e.g. asks for fresh URLs)."""
    with guarded_client(allowed_hosts(), timeout=30) as client:
        try:
            return download(
                client,
                url,
                max_bytes=settings.STUDIO_MAX_DOWNLOAD_BYTES,
                deadline_seconds=settings.STUDIO_DOWNLOAD_DEADLINE,
            ).content
        except DownloadRefused:
            return None


def store_results(generation: Generation, sources: list[ImageSource]) -> None:
    """Hands the images over and stores them at once, in this process: the queue task's work,
    inline (tests and tools; the engine enqueues it)."""
    if hand_over(generation, sources, enqueue_task=False):
        store_pending(generation.pk)


def store_pending(generation_id: int) -> None:
    """The queue task: claims a downloading job whose images are not yet being stored (newly
    handed over, or its worker died: lease passed), then downloads, checks and stores them.

    The claim is one conditional UPDATE, so of two workers given the same task (a redelivery,
    a duplicate from the sweep) one stores and the other returns; images are unique per job and
    index besides, so a worker that outlived its lease cannot store one twice."""
    now = timezone.now()
    generation = (
        Generation.objects.filter(pk=generation_id, status=Status.DOWNLOADING)
        .select_related("credential")
        .first()
    )
    if generation is None:
        return
    lease_until = now + download_lease(len(generation.pending_sources or []))
    deadline = download_deadline(generation, lease_until)
    claimed = (
        Generation.objects.filter(pk=generation_id, status=Status.DOWNLOADING, deadline__gt=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease_until, deadline=deadline)
    )
    if not claimed:
        return
    generation.lease_until, generation.deadline = lease_until, deadline
    pending = generation.pending_sources or []
    stored = Image.objects.filter(generation=generation).count()
    if pending:
        store_indexed(generation, pending, max(s["index"] for s in pending) + 1)
    elif stored:
        finish_download(generation, stored, stored, [])
    elif generation.remote_id:
        # Images of a job handed over before they were staged (older rows) died with their
        # worker; the vendor will send them again.
        if update(generation, Status.DOWNLOADING, status=Status.RUNNING, next_poll_at=now):
            enqueue.wake_poller()
    else:
        fail(
            generation,
            Status.DOWNLOADING,
            "result_lost",
            "The worker stopped while storing this job's images, and this vendor cannot send "
            "them again. The vendor has probably charged for it.",
            may_have_charged=True,
        )


def store_indexed(generation: Generation, pending: list[dict], total: int) -> None:
    problems: list[tuple[int, Exception]] = []
    stored = set(Image.objects.filter(generation=generation).values_list("index", flat=True))
    with guarded_client(allowed_hosts(), timeout=30) as client:
        for entry in sorted(pending, key=expiry_order):
            index = entry["index"]
            if index in stored:
                continue
            source = ImageSource(url=entry.get("url"), expires_at=parse_time(entry["expires_at"]))
            try:
                if entry.get("staged"):
                    with default_storage.open(entry["staged"], "rb") as staged:
                        data = staged.read()
                else:
                    data = download(
                        client,
                        source.url,
                        max_bytes=settings.STUDIO_MAX_DOWNLOAD_BYTES,
                        deadline_seconds=settings.STUDIO_DOWNLOAD_DEADLINE,
                    ).content
                if save_image(generation, index, images.process(data), source):
                    stored.add(index)
            except (DownloadRefused, images.ImageRejected) as exc:
                problems.append((index, exc))
    finish_download(generation, total, len(stored), problems)


def expiry_order(entry: dict) -> str:
    # The URL that expires first is fetched first; staged bytes and lasting URLs after.
    return entry.get("expires_at") or "~"


def discard_staged(pending: list[dict]) -> None:
    for entry in pending or []:
        if entry.get("staged"):
            default_storage.delete(entry["staged"])


# Staged files that no job is downloading from any more are deleted once they are this old. A
# hand-over writes its files before its row names them (and takes seconds), so a young file
# without a row may be one that is being handed over right now.
STAGED_MAX_AGE = timedelta(hours=1)


def discard_orphaned_staged(now: datetime) -> int:
    """Deletes the staged files left by a process that died mid-hand-over (file written, row
    not yet updated) or by a job that left `downloading` another way, once they are older than
    STAGED_MAX_AGE; returns how many. Called by the recovery sweep.

    Folders of jobs still `downloading` are not looked into: their files are read and deleted
    by the store task, and whatever is left there is swept once the job has moved on (at its
    deadline at the latest). So a sweep lists incoming/ and the folders of jobs that are not
    downloading: on S3 only those still holding a file (S3 has no empty folders), one LIST
    request each; on local disk also the folders emptied in the last hour. Storage API only, so
    local disk and S3 alike."""
    try:
        folders, _ = default_storage.listdir(STAGING)
    except FileNotFoundError:  # local storage before the first staged file
        return 0
    pks = [int(name) for name in folders if name.isdigit()]
    downloading = set(
        Generation.objects.filter(pk__in=pks, status=Status.DOWNLOADING).values_list(
            "pk", flat=True
        )
    )
    deleted = 0
    for pk in sorted(set(pks) - downloading):
        folder = f"{STAGING}/{pk}"
        for name in default_storage.listdir(folder)[1]:
            path = f"{folder}/{name}"
            # A hand-over that lost its job deletes its own files: one may go meanwhile.
            with contextlib.suppress(FileNotFoundError):
                if default_storage.get_modified_time(path) < now - STAGED_MAX_AGE:
                    default_storage.delete(path)
                    deleted += 1
        remove_empty_folder(folder, now)
    return deleted


def remove_empty_folder(folder: str, now: datetime) -> None:
    """Local storage keeps a folder its files were deleted from, and the sweep would list it
    every minute for ever; S3 has no folders (path() is not implemented there). A young empty
    folder may be one a hand-over has just made, so it is left for a later sweep."""
    try:
        path = Path(default_storage.path(folder))
    except NotImplementedError:
        return
    with contextlib.suppress(OSError):  # not empty, or already gone
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        if modified < now - STAGED_MAX_AGE:
            path.rmdir()


def save_image(generation: Generation, index: int, processed, source: ImageSource) -> bool:
    image = Image(
        generation=generation,
        owner_id=generation.owner_id,
        index=index,
        width=processed.width,
        height=processed.height,
        format=processed.format,
        bytes=len(processed.content),
        sha256=processed.sha256,
        source_url=(source.url or "")[:2000],
        expires_at=source.expires_at,
    )
    image.file.save(f"image.{processed.extension}", ContentFile(processed.content), save=False)
    image.thumbnail.save("thumb.webp", ContentFile(processed.thumbnail), save=False)
    try:
        with transaction.atomic():
            image.save()
    except IntegrityError:
        # Another worker stored this result first: drop our copy of the files.
        image.file.delete(save=False)
        image.thumbnail.delete(save=False)
    return True


def finish_download(generation: Generation, total: int, stored: int, problems) -> None:
    pending = list(generation.pending_sources or [])
    end_download(generation, total, stored, problems)
    if generation.status != Status.DOWNLOADING:
        # This call moved the job on: the staged bytes have served (or can no longer serve).
        discard_staged(pending)


def end_download(generation: Generation, total: int, stored: int, problems) -> None:
    now = timezone.now()
    expired_urls = [p for _, p in problems if isinstance(p, DownloadRefused) and p.expired]
    if expired_urls and generation.remote_id and generation.redownloads == 0:
        # The vendor's URL expired before we got to it: ask once more for fresh URLs.
        if update(
            generation,
            Status.DOWNLOADING,
            status=Status.RUNNING,
            redownloads=F("redownloads") + 1,
            next_poll_at=now,
            lease_until=None,
        ):
            enqueue.wake_poller()
        return
    if stored == 0:
        reason = "; ".join(str(p) for _, p in problems) or "unknown reason"
        fail(
            generation,
            Status.DOWNLOADING,
            "result_lost",
            f"The vendor finished, but the studio could not keep its image: {reason}. "
            "The vendor has probably charged for it.",
            may_have_charged=True,
        )
        return
    note = ""
    if stored < total:
        reason = "; ".join(str(p) for _, p in problems)
        note = f"{total - stored} of {total} images could not be kept: {reason}."
    if update(
        generation,
        Status.DOWNLOADING,
        status=Status.SUCCEEDED,
        finished_at=now,
        pending_sources=[],
        lease_until=None,
        next_poll_at=None,
        progress=100,
        error_message=note,
    ):
        ledger.record_images(generation, stored)


def download_deadline(generation: Generation, lease_until: datetime) -> datetime:
    """The vendor has delivered: the job now has until its download lease ends, plus one sweep
    (so that recovery, not the expiry, finds an attempt whose worker died), and never less than
    it had. Past that, the sweep ends it whatever it is doing (`jobs.end_at_deadline`)."""
    return max(generation.deadline, lease_until + DOWNLOAD_GRACE)


# One recovery sweep (a one-minute schedule that django-q2 checks every 30 s).
DOWNLOAD_GRACE = timedelta(seconds=90)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
