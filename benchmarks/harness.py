"""What every scenario shares: a throwaway production-like studio, its workers, and statistics.

Each scenario runs in its own process (`python -m benchmarks.<name>`): it calls `setup()` before
touching Django, which points the studio at a fresh database (a temporary SQLite file, or a fresh
PostgreSQL database when BENCH_DATABASE_URL is set) and a temporary media folder, with DEBUG off.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "bench"


def setup(name: str) -> Path:
    """A fresh studio for one scenario; returns its temporary folder."""
    from cryptography.fernet import Fernet

    tmp = Path(tempfile.mkdtemp(prefix=f"studio-bench-{name}-"))
    if not os.environ.get("BENCH_KEEP"):
        # The scenario's database, media and logs go when it ends (BENCH_KEEP=1 keeps them).
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="studio.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        SECURE_SSL_REDIRECT="false",
        EMAIL_HOST="smtp.invalid",
        STUDIO_VAULT_KEYS=Fernet.generate_key().decode(),
        STUDIO_VAR_DIR=str(tmp),
        MEDIA_ROOT=str(tmp / "media"),
        STATIC_ROOT=str(tmp / "static"),
    )
    base = os.environ.get("BENCH_DATABASE_URL")
    if base:
        os.environ["DATABASE_URL"] = fresh_postgres_database(base, f"studio_bench_{name}")
        if not os.environ.get("BENCH_KEEP"):
            atexit.register(drop_postgres_database, base, f"studio_bench_{name}")
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["STUDIO_SQLITE_PATH"] = str(tmp / "studio.sqlite3")
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    return tmp


def fresh_postgres_database(url: str, name: str) -> str:
    import psycopg

    base, _, _ = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def drop_postgres_database(url: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    base, _, _ = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_label() -> str:
    from django.db import connection

    return "PostgreSQL" if connection.vendor == "postgresql" else "SQLite (WAL)"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value that p % of the values do not exceed."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": percentile(values, 95),
        "max": max(values),
    }


def machine() -> dict[str, str]:
    """What the figures were measured on, including how busy the machine was."""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} × {cpu}",
        "python": platform.python_version(),
        "load_1m_at_start": f"{load[0]:.2f}",
        "python_loop_ms": f"{python_loop_ms():.0f}",
    }


def python_loop_ms() -> float:
    """A fixed pure-Python loop's time, best of five: machines of the same name here ran the
    same code 1.6-2.5x apart from one session to the next, so each run says how fast its
    machine was, and figures from two runs compare through it."""
    return min(timeit.repeat("sum(range(1_000_000))", number=1, repeat=5)) * 1000


def record(name: str, result: dict) -> None:
    """Keeps the scenario's figures in var/bench/<name>.json for `benchmarks.run`'s table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def line(label: str, value: str, goal: str = "", ok: bool | None = None) -> str:
    mark = "" if ok is None else f"  [{verdict(ok)}]"
    goal = f"   goal: {goal}" if goal else ""
    return f"  {label:<44} {value:<22}{goal}{mark}"


def page_lines(name: str, page: dict, goal_ms: float, sizes: str) -> tuple[str, str]:
    """A page's server time against its goal, and its query count against the same page of a
    small user (`sizes` names the two)."""
    ms = page["ms"]
    return (
        line(
            f"{name}: server time median / p95",
            f"{ms['median']:.1f} / {ms['p95']:.1f} ms",
            f"median < {goal_ms:.0f} ms",
            ms["median"] < goal_ms and page["status"] == 200,
        ),
        line(
            f"{name}: queries ({sizes})",
            f"{page['queries']} vs {page['queries_with_10_images']}",
            "constant",
            page["queries"] == page["queries_with_10_images"],
        ),
    )


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.started


def wait_until(clock: Stopwatch, target: float) -> None:
    """Sleeps until the stopwatch reads `target` (at once if it is past: a negative sleep is
    an error, and the clock can pass the target between the check and the sleep)."""
    while (left := target - clock()) > 0:
        time.sleep(min(0.05, left))


def run_quietly(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs)
