"""Keeping a finished job's images: decoded or downloaded, checked, stored, before they expire."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
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
    return {"index": index, "url": source.url, "expires_at": expires}


def store_results(generation: Generation, sources: list[ImageSource]) -> None:
    """Keeps every image of a finished job: decoded or downloaded, checked, stored."""
    store_indexed(generation, list(enumerate(sources)), len(sources))


def store_indexed(
    generation: Generation, sources: list[tuple[int, ImageSource]], total: int
) -> None:
    if not sources:
        fail(
            generation,
            Status.DOWNLOADING,
            ErrorCode.NO_IMAGES,
            "The vendor reported success but sent no images. It may have charged for the job.",
            may_have_charged=True,
        )
        return
    # Remember the URLs first: if this process dies mid-download, recovery resumes from them.
    lease = timedelta(seconds=settings.STUDIO_DOWNLOAD_DEADLINE * len(sources) + 60)
    now = timezone.now()
    update(
        generation,
        Status.DOWNLOADING,
        pending_sources=[source_dict(i, s) for i, s in sources if s.url],
        lease_until=now + lease,
        deadline=download_deadline(generation, now + lease),
    )
    problems: list[tuple[int, Exception]] = []
    stored = set(Image.objects.filter(generation=generation).values_list("index", flat=True))
    with guarded_client(allowed_hosts(), timeout=30) as client:
        for index, source in sources:
            if index in stored:
                continue
            try:
                data = source.data
                if data is None:
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


def resume_download(generation_id: int) -> None:
    """Recovery: a worker died while downloading. Start again from the remembered URLs."""
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.STUDIO_DOWNLOAD_DEADLINE + 60)
    claimed = Generation.objects.filter(
        pk=generation_id, status=Status.DOWNLOADING, lease_until__lt=now, deadline__gt=now
    ).update(lease_until=lease_until, deadline=lease_until + DOWNLOAD_GRACE)
    if not claimed:
        return
    generation = Generation.objects.select_related("credential").get(pk=generation_id)
    sources = [
        (s["index"], ImageSource(url=s["url"], expires_at=parse_time(s.get("expires_at"))))
        for s in generation.pending_sources
    ]
    stored = Image.objects.filter(generation=generation).count()
    if sources:
        store_indexed(generation, sources, max(i for i, _ in sources) + 1)
    elif stored:
        finish_download(generation, stored, stored, [])
    elif generation.remote_id:
        # The images came as bytes and died with the worker; the vendor will send them again.
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


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
