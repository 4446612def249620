"""A million images: the gallery, its prompt search and the credits page of a user with
100,000 images, in a database of 1,010,010 images across 903 users (issue 18).

The data is the gallery scenario's (`benchmarks/gallery.py`: the same vendors, prompts, ledger
rows and money), at 10× the size: alice has 100,000 finished jobs over the past year, bob 10,
and 900 other users 1,000 each. carol has the gallery scenario's 10,000 (`gallery.fill`): her
pages are timed in the same rounds as alice's, a reference that shares the machine's load.
Rows only, no files: none of these pages reads an image file. It is loaded in bulk (SQLite:
executemany in one transaction per table; PostgreSQL: COPY), then ANALYZEd as autovacuum would,
and the months that are over are rolled up as the schedule does.

Each page is then timed REPEAT times per round in process, through Django's test client, for
alice and carol, and alice's query count compared with bob's in the same database.

Run: `python -m benchmarks.million` (`BENCH_DATABASE_URL=… ` for PostgreSQL).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from benchmarks import harness
from benchmarks.gallery import VENDORS, WORDS, fill, measure

BIG = 100_000
SMALL = 10
REFERENCE = 10_000
ROUNDS = 2
OTHERS = 900
EACH = 1_000
GOAL_MS = 30.0
PAGES = {
    "gallery": "/gallery/",
    "gallery, search": "/gallery/?q=lighthouse",
    "credits": "/credits/",
}


def users() -> list[tuple[object, int]]:
    from django.contrib.auth.models import User

    big = User.objects.create_user("alice", "alice@example.com", "x" * 20)
    small = User.objects.create_user("bob", "bob@example.com", "x" * 20)
    others = User.objects.bulk_create(
        [User(username=f"user{n:04d}", email=f"user{n:04d}@example.com") for n in range(OTHERS)]
    )
    # carol (the reference) last: the bulk load gives her nothing, gallery.fill her 10,000.
    carol = User.objects.create_user("carol", "carol@example.com", "x" * 20)
    return [(big, BIG), (small, SMALL)] + [(u, EACH) for u in others] + [(carol, 0)]


def rows(owners: list[tuple[object, int]], now: datetime):
    """Jobs, images and ledger rows, as gallery.fill makes them: job k of a user with n jobs
    is k/n of the way through the past year. Ids are given, so the three tables line up."""
    jobs, images, ledger = [], [], []
    pk = 0
    for owner, count in owners:
        if not count:
            continue
        spacing = timedelta(days=365) / count
        for k in range(count):
            pk += 1
            vendor, model = VENDORS[k % len(VENDORS)]
            when = now - (count - k) * spacing
            prompt = f"a {WORDS[k % 11]} and a {WORDS[(k * 7) % 11]} at dusk, picture {k}"
            jobs.append((pk, owner.pk, vendor, model, prompt, when))
            images.append((pk, pk, owner.pk, f"images/{pk:08d}.png", when, k % 9 == 0))
            currency = "CNY" if vendor == "girlgenerator" else "USD"
            ledger.append((pk, owner.pk, pk, vendor, model, "images", 1, "0.15", currency, when))
            if vendor == "girlgenerator":
                ledger.append(
                    (-pk, owner.pk, pk, vendor, model, "credits", 2, "0.30", currency, when)
                )
    return jobs, images, ledger


# The columns each table needs (NOT NULL without a default in the database: Django keeps
# defaults in Python), in the order of the tuples above plus the constant ones.
JOB = (
    "id, owner_id, vendor, model, prompt, created_at, finished_at, deadline, scene, params, "
    "status, remote_id, poll_url, polls, poll_errors, submit_attempts, pending_sources, "
    "redownloads, error_code, error_message, may_have_charged, shard"
)
IMAGE = (
    'id, generation_id, owner_id, file, created_at, favourite, thumbnail, "index", width, '
    "height, format, bytes, sha256, source_url"
)
LEDGER = (
    "id, owner_id, generation_id, vendor, model, kind, amount, money, currency, created_at, unit"
)


def complete(jobs, images, ledger, stamp):
    """The tuples with every column, in the order of JOB, IMAGE and LEDGER."""
    sha = "0" * 64
    for pk, owner, vendor, model, prompt, when in jobs:
        yield "job", (pk, owner, vendor, model, prompt, stamp(when), stamp(when), stamp(when),
                      "text-to-image", '{"size": "1024x1024"}', "succeeded", "", "", 0, 0, 0,
                      "[]", 0, "", "", False, 0)  # fmt: skip
    for pk, job, owner, file, when, favourite in images:
        yield "image", (pk, job, owner, file, stamp(when), favourite, file[:-3] + "webp", 0,
                        1024, 1024, "PNG", 1_500_000, sha, "")  # fmt: skip
    for pk, owner, job, vendor, model, kind, amount, money, currency, when in ledger:
        # Ledger ids after the jobs' (a credits row gets the job's id + the number of jobs).
        row_id = pk if pk > 0 else len(jobs) - pk
        yield "ledger", (row_id, owner, job, vendor, model, kind, amount, money, currency,
                         stamp(when), kind)  # fmt: skip


TABLES = {
    "job": ("studio_generation", JOB),
    "image": ("studio_image", IMAGE),
    "ledger": ("studio_creditentry", LEDGER),
}


def load(owners) -> dict[str, float]:
    """Bulk-loads the rows; returns the seconds each step took."""
    from django.db import connection
    from django.utils import timezone

    clock = harness.Stopwatch()
    jobs, images, ledger = rows(owners, timezone.now())
    took = {"rows built in Python": clock()}
    by_table: dict[str, list] = {name: [] for name in TABLES}
    if connection.vendor == "sqlite":

        def stamp(when):  # as Django's SQLite backend writes a datetime: naive UTC text
            return str(when.astimezone(UTC).replace(tzinfo=None))
    else:

        def stamp(when):
            return when

    for name, row in complete(jobs, images, ledger, stamp):
        by_table[name].append(row)
    del jobs, images, ledger
    connection.ensure_connection()
    raw = connection.connection
    for name, (table, columns) in TABLES.items():
        started = clock()
        if connection.vendor == "sqlite":
            marks = ", ".join("?" * len(columns.split(",")))
            with raw:  # one transaction per table
                raw.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", by_table[name])
        else:
            with raw.transaction(), raw.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in by_table[name]:
                        copy.write_row(row)
                # Rows with given ids leave the sequence behind: the next insert would clash.
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
        took[f"{table}: {len(by_table[name]):,} rows"] = clock() - started
    # The gallery scenario's user with 10,000 images, in this database: the same pages of
    # hers are timed beside alice's, so that the machine's load cancels out of the ratio.
    started = clock()
    fill(owners[-1][0], REFERENCE)
    took[f"{REFERENCE:,} more images (gallery.fill)"] = clock() - started
    started = clock()
    with connection.cursor() as cursor:
        # What autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) would have done by now.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        if connection.vendor == "postgresql":
            # The load's gigabyte of dirty pages, written now rather than by a checkpoint
            # in the middle of the timings (a live database is long past its bulk load).
            cursor.execute("CHECKPOINT")
    took["ANALYZE"] = clock() - started
    from django.utils import timezone

    from studio.money.services import roll_up_closed_days, roll_up_closed_months
    from studio.web.credits import CHART_DAYS

    started = clock()
    roll_up_closed_months()  # the page's monthly roll-up, done once for the past year
    took["monthly roll-up of the past year"] = clock() - started
    started = clock()
    roll_up_closed_days(timezone.localdate() - timedelta(days=CHART_DAYS - 1))  # and the daily
    took["daily roll-up of the charts' days"] = clock() - started
    took["total"] = clock()
    return took


def in_process(big, small, reference) -> dict:
    """Each page for alice and for carol (10,000 images) in alternating rounds, so that both
    see the same load; then once for bob, to count his queries."""
    from django.test import Client

    def client(user):
        c = Client(HTTP_X_FORWARDED_PROTO="https")
        c.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return c

    clients = {user: client(user) for user in (big, small, reference)}
    figures = {}
    for name, path in PAGES.items():
        times: dict = {big: [], reference: []}
        for _round in range(ROUNDS):
            for user in times:
                found, queries, status = measure(clients[user], path)
                times[user] += found
                if user == big:
                    big_queries, big_status = queries, status
        _t, small_queries, _s = measure(clients[small], path)
        figures[name] = {
            "path": path,
            "status": big_status,
            "ms": harness.summary(times[big]),
            "ms_at_10000": harness.summary(times[reference]),
            "queries": big_queries,
            "queries_with_10_images": small_queries,
        }
    return figures


def report(result: dict) -> list[str]:
    total = result["images"]
    lines = [
        f"Million ({result['database']}, {total:,} images, user with {BIG:,}; "
        f"{result['machine']['cpu']}, 1-minute load {result['machine']['load_1m_at_start']} "
        f"at the start, {result.get('load_at_measure', '?')} when the pages were timed; "
        f"reference Python loop {result['machine'].get('python_loop_ms', '?')} ms)",
        harness.line("load: rows, ANALYZE, roll-up", f"{result['load_s']['total']:.0f} s"),
    ]
    for name, f in result["pages"].items():
        took, queries = harness.page_lines(name, f, GOAL_MS, f"{BIG:,} vs {SMALL} images")
        lines.append(took)
        if "ms_at_10000" in f:
            ref = f["ms_at_10000"]["median"]
            lines.append(
                harness.line(
                    f"  ÷ {REFERENCE:,} images, same rounds",
                    f"{f['ms']['median'] / ref:.2f}× ({ref:.1f} ms)",
                )
            )
        lines.append(queries)
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.million")
    parser.parse_args(argv)
    harness.setup("million")
    from django.core.management import call_command

    from studio.models import Image

    owners = users()
    result = {"machine": harness.machine(), "database": harness.database_label()}
    result["load_s"] = load(owners)
    result["images"] = Image.objects.count()
    for step, seconds in result["load_s"].items():
        print(f"  {step}: {seconds:.1f} s", flush=True)
    call_command("collectstatic", "--noinput", verbosity=0)
    result["load_at_measure"] = harness.machine()["load_1m_at_start"]
    result["pages"] = in_process(owners[0][0], owners[1][0], owners[-1][0])
    harness.record("million", result)
    print("\n".join(report(result)), flush=True)
    return result


if __name__ == "__main__":
    main()
