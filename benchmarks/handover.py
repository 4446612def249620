"""Handover: the poller's CPU per finished job, with the image work off the poller (issue 18).

What the poller's thread does when a poll finds a job finished, measured as this process's CPU
time (user + system, every thread, so the image threads count too):

- old path, what the poller did until issue 18: download, decode, check, re-encode, thumbnail
  and store, in its own process (`store.store_results`, the same code a store task runs now);
- new path: `store.hand_over`: remember the sources, one UPDATE, one task enqueued (and for
  base64 results, the bytes written once to the media storage).

Both for URL results (served by `python -m http.server` in a process of its own, so that
serving costs this process nothing) and for base64 results, 1024×1024 photo-like PNGs as in
benchmarks/images.py, on the same database and in the same run.

Run: `python -m benchmarks.handover`.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time

from benchmarks import harness
from benchmarks.images import photo_like

JOBS = 16  # per path and kind of result
SIDE = 1024
# The goal: the new path costs at most a quarter of the old one, and at most 10 ms a job, so
# one poller core hands over 100 finished jobs a second (the 2,000-jobs-in-flight relay finishes
# far fewer per second) and the image work, which no longer bounds it, scales with workers.
GOAL_RATIO = 0.25
GOAL_MS = 10.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(folder, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.05)
    raise RuntimeError("the image server did not start")


def finished_jobs(owner, count: int) -> list:
    from django.utils import timezone

    from studio.models import Generation

    now = timezone.now()
    return [
        Generation.objects.create(
            owner=owner,
            vendor="demo",
            model="demo",
            prompt=f"bench {i}",
            status=Generation.Status.DOWNLOADING,
            deadline=now + timezone.timedelta(minutes=15),
            running_at=now,
            downloading_at=now,
        )
        for i in range(count)
    ]


def measure(path, jobs: list, sources) -> float:
    """CPU-milliseconds per job for `path(job, sources)`."""
    started = cpu_seconds()
    for job in jobs:
        path(job, sources)
    return (cpu_seconds() - started) / len(jobs) * 1000


def main() -> dict:
    tmp = harness.setup("handover")
    served = tmp / "served"
    served.mkdir()
    png = photo_like(SIDE)
    (served / "result.png").write_bytes(png)
    port = free_port()
    # The image host counts as the vendor's own (allowed by the download guard), as in tests.
    os.environ["STUDIO_VENDOR_URLS"] = f"chatfire=http://127.0.0.1:{port}"
    from django.conf import settings

    settings.STUDIO_VENDOR_URLS = {"chatfire": f"http://127.0.0.1:{port}"}
    from django.contrib.auth.models import User

    from studio.engine import store
    from studio.models import Image
    from studio.vendors.base import ImageSource

    owner = User.objects.create_user("bench", "bench@example.com", "bench-password-1")
    server = serve(served, port)
    try:
        url = [ImageSource(url=f"http://127.0.0.1:{port}/result.png")]
        inline = [ImageSource(data=png)]
        warm = finished_jobs(owner, 2)
        store.store_results(warm[0], url)  # imports, TLS context, Pillow plugins, pools
        store.store_results(warm[1], inline)
        figures = {}
        for kind, sources in (("url", url), ("base64", inline)):
            old_ms = measure(store.store_results, finished_jobs(owner, JOBS), sources)
            new_ms = measure(store.hand_over, finished_jobs(owner, JOBS), sources)
            figures[kind] = {"old_ms": old_ms, "new_ms": new_ms, "ratio": new_ms / old_ms}
        stored = Image.objects.count()
    finally:
        server.terminate()
        server.wait()
    result = {
        "machine": harness.machine(),
        "database": harness.database_label(),
        "jobs": JOBS,
        "side": SIDE,
        "png_mb": len(png) / 1e6,
        "stored_by_old_path": stored,
        "figures": figures,
    }
    harness.record("handover", result)
    print("\n".join(report(result)), flush=True)
    return result


def report(result: dict) -> list[str]:
    lines = [
        f"Handover: poller CPU per finished job, {result['side']}² PNG "
        f"({result['png_mb']:.1f} MB), {result['jobs']} jobs per path, {result['database']}"
    ]
    for kind, f in result["figures"].items():
        ok = f["ratio"] <= GOAL_RATIO and f["new_ms"] <= GOAL_MS
        lines.append(
            harness.line(
                f"{kind} result: hand over vs store in poller",
                f"{f['new_ms']:.1f} vs {f['old_ms']:.1f} ms (×{f['ratio']:.2f})",
                f"≤ {GOAL_MS:.0f} ms and ≤ ×{GOAL_RATIO}",
                ok,
            )
        )
    return lines


if __name__ == "__main__":
    main()
