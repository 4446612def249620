"""Downloads: server memory while the gallery's bulk ZIP streams 500 images, against 10 images
(the same code, a twentieth of the data) and against building the same ZIP whole in memory with
the standard library (what "streamed" saves), all in one run.

The 500 images are photo-like 1024×1024 PNGs as vendors send them (about 1.7 MB each, one
file on disk that every row points at: the ZIP reads it 500 times, as it would 500 files).
Each ZIP is requested through Django's test client (the whole middleware stack, the view, the
metadata written into every file) and read chunk by chunk, as a WSGI server sends it; the
process's resident memory is sampled every 2 ms meanwhile (benchmarks.images.PeakMemory).

Run: `python -m benchmarks.downloads`.
"""

from __future__ import annotations

import io
import time
import zipfile

from benchmarks import harness
from benchmarks.images import PeakMemory, photo_like

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
    return [
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
        "tmp": str(tmp),
    }
    harness.record("downloads", result)
    print("\n".join(report(result)), flush=True)
    return result


if __name__ == "__main__":
    main()
