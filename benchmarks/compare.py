"""Compare: server time of a comparison's page at 8 targets, against the plain job page measured
in the same run; a column's poll; and the scoreboard for a user with 10,000 jobs.

In process, through Django's test client (the whole middleware stack, no network), each page
REPEAT times: median and p95 of the server time and the number of queries. Every column has
finished with an image, spend and a revised prompt, as after a real comparison, and the user
has the gallery scenario's 10,000 jobs behind them.

Run: `python -m benchmarks.compare`.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from decimal import Decimal

from benchmarks import harness
from benchmarks.gallery import measure

JOBS = 10_000
TARGETS = 8
GOAL_MS = 30.0
SCOREBOARD_GOAL_MS = 150.0
# Eight targets: the demo and seven keyed models.
MODELS = [
    ("demo", "demo"),
    ("girlgenerator", "default"),
    ("aioagi", "gpt-image-2"),
    ("lemondata", "dall-e-3"),
    ("lemondata", "flux-pro"),
    ("chatfire", "seedream-3.0"),
    ("chatfire", "jimeng"),
    ("chatbp", "gpt-image-1"),
]


def comparison_of(owner):
    """A finished comparison of 8 targets, with a verdict, made as the engine leaves jobs."""
    from django.utils import timezone

    from accounts.vault import add_credential
    from studio.compare.models import Column, Comparison
    from studio.models import CreditEntry, Generation, Image

    now = timezone.now()
    keys = {
        vendor: add_credential(owner, vendor, f"{vendor} key", f"sk-{vendor}-0123456789abcdef")
        for vendor in {v for v, _m in MODELS if v != "demo"}
    }
    comparison = Comparison.objects.create(
        owner=owner, prompt="a lighthouse in fog, at dusk", aspect_ratio="16:9"
    )
    for position, (vendor, model) in enumerate(MODELS):
        job = Generation.objects.create(
            owner=owner,
            credential=keys.get(vendor),
            vendor=vendor,
            model=model,
            prompt=comparison.prompt,
            params={"size": "1792x1024"},
            status=Generation.Status.SUCCEEDED,
            deadline=now,
            submitted_at=now - timedelta(seconds=20 + position),
            finished_at=now,
            raw_reply={"data": [{"url": "https://x/y.png", "revised_prompt": "A lighthouse."}]},
        )
        Image.objects.create(
            generation=job,
            owner=owner,
            file=f"images/c{job.pk}.png",
            thumbnail=f"images/c{job.pk}.webp",
            width=1792,
            height=1024,
            format="PNG",
            bytes=1_500_000,
            sha256="0" * 64,
        )
        CreditEntry.objects.create(
            owner=owner,
            generation=job,
            vendor=vendor,
            kind="credits",
            amount=Decimal(2),
            unit="credits",
        )
        Column.objects.create(
            comparison=comparison,
            position=position,
            credential=keys.get(vendor),
            vendor=vendor,
            model=model,
            generation=job,
            is_winner=position == 3,
        )
    Comparison.objects.filter(pk=comparison.pk).update(decided_at=now, note="the sharpest")
    return comparison


def report(result: dict) -> list[str]:
    pages = result["pages"]
    base, page = pages["job page (baseline)"], pages["comparison page, 8 targets"]
    lines = [f"Compare ({result['database']}, {result['jobs']:,} jobs, {result['machine']['cpu']})"]
    for name, f in pages.items():
        ms = f["ms"]
        goal = SCOREBOARD_GOAL_MS if name.startswith("scoreboard") else GOAL_MS
        lines.append(
            harness.line(
                f"{name}: median / p95",
                f"{ms['median']:.1f} / {ms['p95']:.1f} ms",
                f"median < {goal:.0f} ms",
                ms["median"] < goal and f["status"] in (200, 204),
            )
        )
        lines.append(harness.line(f"{name}: queries", str(f["queries"])))
    ratio = page["ms"]["median"] / base["ms"]["median"]
    lines.append(
        harness.line("comparison page ÷ job page (same run)", f"{ratio:.2f}×", "< 4×", ratio < 4)
    )
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare")
    parser.parse_args(argv)
    harness.setup("compare")
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from benchmarks.gallery import fill

    owner = User.objects.create_user("alice", "alice@example.com", "x" * 20)
    clock = harness.Stopwatch()
    fill(owner, JOBS)
    comparison = comparison_of(owner)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    call_command("collectstatic", "--noinput", verbosity=0)
    job = comparison.columns.get(position=0).generation
    column = comparison.columns.get(position=0)
    paths = {
        "job page (baseline)": f"/jobs/{job.pk}/",
        "comparison page, 8 targets": f"/compare/{comparison.pk}/",
        "scoreboard, 10,000 jobs": "/vendors/",
    }
    result = {
        "machine": harness.machine(),
        "database": harness.database_label(),
        "jobs": JOBS,
        "seed_s": clock(),
        "pages": {},
    }
    for name, path in paths.items():
        client = Client(HTTP_X_FORWARDED_PROTO="https")
        client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
        times, queries, status = measure(client, path)
        result["pages"][name] = {
            "path": path,
            "status": status,
            "ms": harness.summary(times),
            "queries": queries,
        }
    # A column's poll as htmx sends it, with the state the column already shows.
    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HX_REQUEST="true")
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    path = f"/compare/{comparison.pk}/columns/{column.pk}/?seen=succeeded-None"
    started = time.perf_counter()
    times, queries, status = measure(client, path)
    result["pages"]["one column, polled"] = {
        "path": path,
        "status": status,
        "ms": harness.summary(times),
        "queries": queries,
        "wall_s": time.perf_counter() - started,
    }
    harness.record("compare", result)
    print("\n".join(report(result)), flush=True)
    return result


if __name__ == "__main__":
    main()
