"""Gallery: server time and queries for the gallery, image, credits, generate and jobs pages of
a user with 10,000 images, and throughput under concurrent load through gunicorn.

1. In process, through Django's test client (the whole middleware stack, no network): each
   page REPEAT times, median and p95 of the server time, and the number of queries, for a user
   with 10,000 images and for one with 10 (the counts must be equal: constant cost).
2. gunicorn started as the Procfile starts it (deploy/gunicorn.conf.py), CLIENTS concurrent
   clients on loopback requesting the gallery's first page for LOAD_S seconds: requests per
   second and latency. The load generator shares the machine's cores with gunicorn.

Run: `python -m benchmarks.gallery`.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from benchmarks import harness

IMAGES = 10_000
REPEAT = 40
CLIENTS = 8
LOAD_S = 15.0
GOAL_MS = 30.0
SPACING = timedelta(days=365) / IMAGES
VENDORS = [
    ("girlgenerator", "default"),
    ("aioagi", "gpt-image-2"),
    ("lemondata", "flux-pro"),
    ("chatbp", "dall-e-3"),
    ("chatfire", "seedream-3.0"),
    ("demo", "demo"),
]
WORDS = [
    "lighthouse",
    "meadow",
    "harbour",
    "fox",
    "city",
    "night",
    "rain",
    "forest",
    "portrait",
    "castle",
    "river",
]


def fill(owner, count: int) -> None:
    """`count` finished jobs of `owner` over the past year, one image and one or two ledger
    rows each (10,000 images: about 27 a day)."""
    from django.utils import timezone

    from studio.models import CreditEntry, Generation, Image

    now = timezone.now()
    for start in range(0, count, 2000):
        batch = range(start, min(count, start + 2000))
        jobs = Generation.objects.bulk_create(
            [
                Generation(
                    owner=owner,
                    vendor=VENDORS[i % len(VENDORS)][0],
                    model=VENDORS[i % len(VENDORS)][1],
                    prompt=f"a {WORDS[i % 11]} and a {WORDS[(i * 7) % 11]} at dusk, picture {i}",
                    params={"size": "1024x1024"},
                    status=Generation.Status.SUCCEEDED,
                    deadline=now,
                    created_at=now - (count - i) * SPACING,
                    finished_at=now - (count - i) * SPACING,
                )
                for i in batch
            ]
        )
        CreditEntry.objects.bulk_create(
            [
                CreditEntry(
                    owner=owner,
                    generation=job,
                    vendor=job.vendor,
                    model=job.model,
                    kind=kind,
                    amount=amount,
                    unit=kind,
                    created_at=job.created_at,
                    # Valued as the price book would (studio.money): the money totals and
                    # the stacked money chart do their real work.
                    money=Decimal("0.15") * amount,
                    currency="CNY" if job.vendor == "girlgenerator" else "USD",
                )
                for job in jobs
                for kind, amount in (("credits", 2), ("images", 1))
                if kind == "images" or job.vendor == "girlgenerator"
            ]
        )
        Image.objects.bulk_create(
            [
                Image(
                    generation=job,
                    owner=owner,
                    file=f"images/{job.pk:08d}.png",
                    thumbnail=f"images/{job.pk:08d}.webp",
                    width=1024,
                    height=1024,
                    format="PNG",
                    bytes=1_500_000,
                    sha256="0" * 64,
                    created_at=job.created_at,
                    favourite=i % 9 == 0,
                )
                for i, job in zip(batch, jobs, strict=True)
            ]
        )


def pages(owner) -> dict[str, str]:
    from studio.models import Image

    count = Image.objects.filter(owner=owner).count()
    middle = Image.objects.filter(owner=owner).order_by("-created_at")[count // 2 :].first()
    from studio.web.paging import cursor_of

    job = middle.generation if middle else None
    return {
        "gallery": "/gallery/",
        "gallery, search": "/gallery/?q=lighthouse",
        "image": f"/gallery/{middle.pk}/" if middle else "/gallery/",
        "credits": "/credits/",
        # The generate page (recent jobs, the last key and model, jobs in progress elsewhere)
        # and the jobs page: its first page, a page halfway down the history with a filter,
        # and a filter that matches nothing (the whole history is looked through).
        "generate": "/",
        "jobs": "/jobs/",
        "jobs, vendor filter, halfway down": (
            f"/jobs/?vendor=girlgenerator&after={cursor_of(job)}" if job else "/jobs/"
        ),
        "jobs, failed (none)": "/jobs/?status=failed",
    }


def measure(client, path: str) -> tuple[list[float], int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)  # warm: template loading, first-use caches
    times = []
    for _ in range(REPEAT):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
    return times, len(queries), response.status_code


def in_process(big, small) -> dict:
    from django.test import Client

    figures = {}
    for name, path in pages(big).items():
        client = Client(HTTP_X_FORWARDED_PROTO="https")
        client.force_login(big, backend="django.contrib.auth.backends.ModelBackend")
        times, queries, status = measure(client, path)
        small_client = Client(HTTP_X_FORWARDED_PROTO="https")
        small_client.force_login(small, backend="django.contrib.auth.backends.ModelBackend")
        _t, small_queries, _s = measure(small_client, pages(small)[name])
        figures[name] = {
            "path": path,
            "status": status,
            "ms": harness.summary(times),
            "queries": queries,
            "queries_with_10_images": small_queries,
        }
    return figures


def credits_rollup(big) -> dict:
    """The credits page with the monthly roll-up against the two ways before it, in the same
    process and in alternating rounds (the machine's load moves the figures by 2× between
    runs): money totals summed over the whole ledger (before the roll-up), and no money
    totals at all (roughly the page before money, which was 34–43 ms beside 76–96 ms)."""
    from django.test import Client

    from studio.web import credits as page

    # The page's signature (spend_by_month): the unfiltered months and the live month are
    # what the roll-up reads; the variants before it ignore them.
    def whole_ledger(user, credentials, filters, _months, _live):
        if not filters.is_valid():
            return []
        return page.priced(
            page.ledger_months(filters.apply(page.visible_entries(user, credentials)))
        )

    variants = {"roll-up": page.spend_by_month, "whole ledger": whole_ledger}
    variants["no money totals"] = lambda user, credentials, filters, _months, _live: []
    client = Client(HTTP_X_FORWARDED_PROTO="https")
    client.force_login(big, backend="django.contrib.auth.backends.ModelBackend")
    times: dict[str, list[float]] = {name: [] for name in variants}
    queries = {}
    current = page.spend_by_month
    try:
        for _round in range(ROUNDS):
            for name, variant in variants.items():
                page.spend_by_month = variant
                found, queries[name], status = measure(client, "/credits/")
                assert status == 200
                times[name] += found
    finally:
        page.spend_by_month = current
    return {
        name: {"ms": harness.summary(found), "queries": queries[name]}
        for name, found in times.items()
    }


ROUNDS = 3


def free_port() -> int:
    if os.environ.get("BENCH_PORT"):  # a machine shared with others: a port of one's own range
        return int(os.environ["BENCH_PORT"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def under_load(user, tmp: Path) -> dict:
    import httpx
    from django.conf import settings

    from tests.worker import worker_env

    port = free_port()
    env = worker_env({"PORT": str(port), "STATIC_ROOT": str(settings.STATIC_ROOT)})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            "gunicorn",
            "--config",
            "deploy/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "studio.asgi",
        ],
        cwd=harness.ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cookie = session_cookie(user)
    headers = {"X-Forwarded-Proto": "https", "Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", headers=headers, trust_env=False).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError((tmp / "gunicorn.log").read_text(errors="replace"))
            time.sleep(0.2)
        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()
        stop_at = time.monotonic() + LOAD_S

        def client() -> None:
            nonlocal errors
            with httpx.Client(base_url=base, headers=headers, trust_env=False, timeout=30) as c:
                while time.monotonic() < stop_at:
                    started = time.perf_counter()
                    r = c.get("/gallery/")
                    elapsed = (time.perf_counter() - started) * 1000
                    with lock:
                        latencies.append(elapsed)
                        errors += r.status_code != 200

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    return {
        "clients": CLIENTS,
        "seconds": elapsed,
        "web_workers": os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) * 2 + 1,
        "requests": len(latencies),
        "errors": errors,
        "per_second": len(latencies) / elapsed,
        "ms": harness.summary(latencies),
    }


def report(result: dict) -> list[str]:
    lines = [
        f"Gallery ({result['database']}, {result['images']:,} images, {result['machine']['cpu']})"
    ]
    for name, f in result["pages"].items():
        lines += harness.page_lines(name, f, GOAL_MS, "10,000 vs 10 images")
    rollup = result.get("credits_rollup")
    if rollup:
        now, whole, bare = (
            rollup[name]["ms"]["median"] for name in ("roll-up", "whole ledger", "no money totals")
        )
        pages = result["pages"]
        ratio = pages["credits"]["ms"]["median"] / pages["gallery"]["ms"]["median"]
        lines += [
            harness.line(
                "credits, roll-up: median (same run)",
                f"{now:.1f} ms",
                f"< {GOAL_MS:.0f} ms",
                now < GOAL_MS,
            ),
            harness.line(
                "  ÷ totals over the whole ledger (before)",
                f"{now / whole:.2f}× ({whole:.1f} ms)",
                "< 1",
                now < whole,
            ),
            # Shown, no longer judged: the gallery it divides by has since become twice as
            # fast (its tiles built in Python, benchmarks/README.md), so the ratio grew without
            # the credits page slowing. What money costs is the next line: the same page
            # without its money totals, in the same rounds.
            harness.line(
                "  credits ÷ gallery page, same process",
                f"{ratio:.2f}× (before money, with the older gallery: 1.34× and 1.98×)",
            ),
            harness.line(
                "  ÷ no money totals (≈ before money)",
                f"{now / bare:.2f}× ({bare:.1f} ms)",
                "≤ 1.25",
                now <= bare * 1.25,
            ),
        ]
    load = result["load"]
    lines += [
        harness.line(
            f"gunicorn, {load['web_workers']} workers, {load['clients']} clients: gallery",
            f"{load['per_second']:.0f} requests/s",
        ),
        harness.line(
            "  latency median / p95, errors",
            f"{load['ms']['median']:.0f} / {load['ms']['p95']:.0f} ms, {load['errors']}",
            "0 errors",
            load["errors"] == 0,
        ),
    ]
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gallery")
    parser.parse_args(argv)
    tmp = harness.setup("gallery")
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    big = User.objects.create_user("alice", "alice@example.com", "x" * 20)
    small = User.objects.create_user("bob", "bob@example.com", "x" * 20)
    clock = harness.Stopwatch()
    fill(big, IMAGES)
    fill(small, 10)
    # A live database has planner statistics (PostgreSQL's autovacuum gathers them); a table
    # bulk-loaded a second ago has none, and PostgreSQL then sorts all 10,000 images for a page
    # of 48 (16 ms instead of 0.1 ms). Autovacuum also vacuums a table after many inserts,
    # which sets the visibility map that index-only scans need (the gallery's vendor and model
    # choices: 4.5 ms as a table scan, 1.6 ms from the index alone).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    result = {
        "machine": harness.machine(),
        "database": harness.database_label(),
        "images": IMAGES,
        "seed_s": clock(),
    }
    # DEBUG is off: pages need the collected, hashed static files, as in production.
    call_command("collectstatic", "--noinput", verbosity=0)
    result["pages"] = in_process(big, small)
    result["credits_rollup"] = credits_rollup(big)
    result["load"] = under_load(big, tmp)
    harness.record("gallery", result)
    print("\n".join(report(result)), flush=True)
    return result


if __name__ == "__main__":
    main()
