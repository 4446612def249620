"""Downloads: server memory while the gallery's bulk ZIP streams 500 images, against 10 images
(the same code, a twentieth of the data) and against building the same ZIP whole in memory with
the standard library (what "streamed" saves), all in one run.

The 500 images are photo-like 1024×1024 PNGs as vendors send them (about 1.7 MB each, one
file on disk that every row points at: the ZIP reads it 500 times, as it would 500 files).
Each ZIP is requested through Django's test client (the whole middleware stack, the view, the
metadata written into every file) and read chunk by chunk, as a WSGI server sends it; the
process's resident memory is sampled every 2 ms meanwhile (benchmarks.images.PeakMemory).
Then the 500 again, as a collection's ZIP, from the Procfile's own web server (gunicorn's
uvicorn workers serving `studio.asgi`): each worker's resident memory is sampled every 5 ms,
and the time to the first byte is noted (Django reads a synchronous iterator whole before an
ASGI server gets a byte of it; studio/web/streaming.py).

Run: `python -m benchmarks.downloads`.
"""

from __future__ import annotations

import io
import os
import threading
import time
import zipfile
from pathlib import Path

from benchmarks import harness
from benchmarks.images import PAGE, PeakMemory, photo_like

IMAGES = 500
SMALL = 10
# Streaming holds about one image (and its copy with metadata) at a time, whatever the count.
GOAL_ADDED_MB = 64


def fill(owner, count: int) -> list[int]:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from studio.models import Generation, Image

    data = photo_like(1024)
    name = default_storage.save("bench/result.png", ContentFile(data))
    now = timezone.now()
    jobs = Generation.objects.bulk_create(
        Generation(
            owner=owner,
            vendor="chatbp",
            model="gpt-image-1",
            prompt=f"a lighthouse at dusk, picture {i}",
            params={"size": "1024x1024", "quality": "high"},
            status=Generation.Status.SUCCEEDED,
            deadline=now,
            finished_at=now,
        )
        for i in range(count)
    )
    images = Image.objects.bulk_create(
        Image(
            generation=job,
            owner=owner,
            index=0,
            file=name,
            thumbnail=name,
            width=1024,
            height=1024,
            format="PNG",
            bytes=len(data),
            sha256="0" * 64,
        )
        for job in jobs
    )
    return [image.pk for image in images]


def streamed(client, pks: list[int]) -> dict:
    started = time.perf_counter()
    size = chunks = 0
    with PeakMemory() as memory:
        response = client.post("/gallery/bulk/", {"action": "zip", "image": pks})
        assert response.status_code == 200, response.status_code
        for chunk in response.streaming_content:
            size += len(chunk)
            chunks += 1
    seconds = time.perf_counter() - started
    return {
        "images": len(pks),
        "zip_mb": size / 1e6,
        "added_mb": memory.added_mb,
        "seconds": seconds,
        "mb_per_s": size / 1e6 / seconds,
    }


def workers_rss_mb(root: int) -> dict[int, float]:
    """Resident memory of each process under `root` (the web server's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue  # gone meanwhile
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, stack = {}, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        try:
            found[pid] = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6
        except OSError:
            continue
        stack.extend(children.get(pid, []))
    return found


def under_asgi(owner, pks: list[int], tmp: Path) -> dict:
    """The same images as a collection's ZIP (a GET) from the Procfile's web server: the most
    any one worker's resident memory grew while it was sent, and the time to its first byte."""
    import httpx
    from django.conf import settings
    from django.core.management import call_command

    from benchmarks import api
    from benchmarks.gallery import session_cookie
    from studio.models import Image
    from studio.sharing import services as sharing
    from studio.sharing.models import Collection

    collection = Collection.objects.create(owner=owner, name="bench")
    sharing.add_images(collection, Image.objects.filter(pk__in=pks))
    call_command("collectstatic", "--noinput", verbosity=0)
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_cookie(owner)}"
    headers = {**api.HTTPS, "Cookie": cookie}
    proc, log = api.start_web(tmp)
    base = f"http://127.0.0.1:{api.WEB_PORT}"
    try:
        api.wait_up(base, tmp)
        for _ in range(20):  # every worker past its first request: imports, templates
            httpx.get(f"{base}/collections/", headers=headers, trust_env=False)
        start = workers_rss_mb(proc.pid)
        peak = dict(start)
        running = True

        def sample() -> None:
            while running:
                for pid, mb in workers_rss_mb(proc.pid).items():
                    peak[pid] = max(peak.get(pid, mb), mb)
                time.sleep(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        size, first = 0, None
        started = time.perf_counter()
        path = f"{base}/collections/{collection.pk}/download/"
        try:
            with httpx.stream("GET", path, headers=headers, trust_env=False, timeout=600) as r:
                assert r.status_code == 200, r.status_code
                for chunk in r.iter_bytes():
                    if first is None:
                        first = time.perf_counter() - started
                    size += len(chunk)
        finally:
            running = False
            sampler.join()
        seconds = time.perf_counter() - started
    finally:
        api.stop(proc)
        log.close()
    return {
        "images": len(pks),
        "zip_mb": size / 1e6,
        "added_mb": max(peak[pid] - start.get(pid, peak[pid]) for pid in peak),
        "first_byte_s": first,
        "seconds": seconds,
    }


def whole_in_memory(pks: list[int]) -> dict:
    """The baseline: the standard library's zipfile writing the same files into one buffer."""
    from studio.downloads.services import file_name, image_bytes
    from studio.models import Image

    started = time.perf_counter()
    with PeakMemory() as memory:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for image in Image.objects.filter(pk__in=pks).select_related("generation"):
                archive.writestr(file_name(image), image_bytes(image, metadata=True))
        size = buffer.getbuffer().nbytes
        del buffer
    return {
        "images": len(pks),
        "zip_mb": size / 1e6,
        "added_mb": memory.added_mb,
        "seconds": time.perf_counter() - started,
    }


def report(result: dict) -> list[str]:
    small, big, naive = result["small"], result["big"], result["whole"]
    lines = [
        f"Downloads: bulk ZIP, server memory ({result['database']}, {result['machine']['cpu']})",
        harness.line(
            f"streamed ZIP of {small['images']} images",
            f"{small['zip_mb']:.0f} MB, peak +{small['added_mb']:.1f} MB",
        ),
        harness.line(
            f"streamed ZIP of {big['images']} images",
            f"{big['zip_mb']:.0f} MB, peak +{big['added_mb']:.1f} MB, {big['mb_per_s']:.0f} MB/s",
            f"≤ {GOAL_ADDED_MB} MB",
            big["added_mb"] <= GOAL_ADDED_MB,
        ),
        harness.line(
            f"{big['images']} ÷ {small['images']} images: peak memory",
            f"{big['added_mb'] / max(small['added_mb'], 1):.2f}×",
            "≈ 1× (bounded)",
            big["added_mb"] <= 2 * max(small["added_mb"], 1) + 8,
        ),
    ]
    asgi = result.get("asgi")
    if asgi:
        lines += [
            harness.line(
                f"uvicorn worker, ZIP of {asgi['images']}: peak",
                f"+{asgi['added_mb']:.1f} MB ({asgi['zip_mb']:.0f} MB sent)",
                f"≤ {GOAL_ADDED_MB} MB",
                asgi["added_mb"] <= GOAL_ADDED_MB,
            ),
            harness.line(
                "  first byte after; whole ZIP after",
                f"{asgi['first_byte_s']:.2f} s; {asgi['seconds']:.1f} s",
            ),
        ]
    return lines + [
        harness.line(
            f"baseline: zipfile whole in memory, {naive['images']}",
            f"peak +{naive['added_mb']:.0f} MB",
        ),
        harness.line(
            "streamed ÷ whole in memory: peak",
            f"{big['added_mb'] / max(naive['added_mb'], 1):.3f}×",
        ),
    ]


def main() -> dict:
    tmp = harness.setup("downloads")
    from django.contrib.auth.models import User
    from django.test import Client

    owner = User.objects.create_user("bench", password="bench password 123")
    pks = fill(owner, IMAGES)
    client = Client()
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    streamed(client, pks[:2])  # warm up: imports, templates, codecs
    result = {
        "machine": harness.machine(),
        "database": harness.database_label(),
        "small": streamed(client, pks[:SMALL]),
        "big": streamed(client, pks),
        "whole": whole_in_memory(pks),
        "asgi": under_asgi(owner, pks, tmp),
        "tmp": str(tmp),
    }
    harness.record("downloads", result)
    print("\n".join(report(result)), flush=True)
    return result


if __name__ == "__main__":
    main()
