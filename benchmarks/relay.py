"""Relay at scale: 500, 1,000 and 2,000 jobs in flight, two qclusters, against the ideal client.

Issue 18, item 6. PostgreSQL only: two `qcluster` processes share one database, which is how
the studio scales out (SQLite has one writer on one host; the lines are printed as skipped).

1. Image work budget. One job's image work (download from the fake, `images.process`, the
   storage writes and the rows: `store.store_results`, what a `store_generation` task does) is
   timed in this process's CPU, as `handover` times the old path. The arrival rate is then
   BUDGET cores ÷ that cost, so on average the image work needs BUDGET of the two cores and
   what is measured is the engine's own overhead, not a queue behind a saturated CPU.
2. The studio: for N = 500, 1,000 and 2,000, N jobs on one chatbp key (a relay, no rate limit)
   arrive evenly at that rate over W = N ÷ rate seconds; each job's vendor time is spread over
   W + 5 … W + 10 s, longer than the arrival window, so all N are in flight at once (the peak is
   counted). Two real `qcluster` processes (STUDIO_WORKERS each, polling every POLL s) share the
   work. Overhead = the job's `finished_at` (image stored) minus the moment the vendor turned it
   to success, as in `engine`. Paid submits are counted from the fake's own request log.
   CPU-seconds per job: both clusters' whole process trees (every worker, living or reaped,
   from /proc), over the measured jobs, so the figure should stay flat as N grows.
3. The ideal client: told the exact moment each job is ready, it then asks the vendor once for
   the result, downloads the image, runs `images.process` and writes both files to the media
   storage, as the studio does (threads in this process; the smallest N at the same arrival
   rate, vendor times of 5 … 10 s, since the floor does not depend on them). Its overhead is
   the physical floor; the studio's is printed as a ratio to it.

The pacing history (`engine/pacing.py`) is set before each N to the vendor times of that N, as
a studio that has run this model before would have it: otherwise the history of the previous N
(shorter vendor times) would make the studio poll early, and the runs would not compare.

Run: `python -m benchmarks.relay [--jobs N …] [--budget CORES] [--poll SECONDS]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import threading
import time
from pathlib import Path

from benchmarks import harness
from benchmarks.engine import (
    CHATBP,
    KEY,
    bench_fake,
    poll_lateness,
    ready_times,
    request_counts,
)
from benchmarks.engine import spread as spread_times

SIZES = [500, 1000, 2000]
BUDGET = 0.5  # cores: the image work's average share of the machine's two
# Seconds between polls (the operator's STUDIO_VENDOR_POLL for the relay, which has no rate
# limit). A poll finds a job a median half an interval after it is ready: at 0.5 s that floor
# alone was half the 0.5 s goal (median 0.52-0.56 s), while a poll costs little (7.9 polls a
# job at 0.25 s took 119 ms of CPU a job, 5.4 at 0.5 s 111 ms: benchmarks/README.md, relay).
POLL = 0.25
MARGIN = (5.0, 10.0)  # vendor times: arrival window + 5 … + 10 s
GOAL_MEDIAN = 0.5  # s
GOAL_P95 = 1.5  # s
GOAL_CPU_RATIO = 1.25  # CPU-seconds per job, 2,000 ÷ 500
COST_JOBS = 12  # jobs timed for the image work's CPU cost
SKIPPED = (
    "skipped: needs PostgreSQL (two qcluster processes sharing one database); "
    "set BENCH_DATABASE_URL"
)


# --- CPU of a process tree --------------------------------------------------------------------


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and all its descendants, living or reaped (from /proc).

    A reaped child's time is in its parent's cutime/cstime, so a worker that django-q recycles
    between two readings is counted once, alive in the first and in its parent in the second."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += ticks.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / os.sysconf("SC_CLK_TCK")


def pid_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


class DatabaseCpu:
    """CPU of the PostgreSQL backends serving the bench's database (the server runs on this
    machine), sampled every second: a backend that ends between two samples loses its last
    second, so this is a lower bound. Not in the clusters' trees: the postmaster forks them."""

    def __init__(self):
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def sample(self, conn) -> None:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        for (pid,) in conn.execute(query).fetchall():
            ticks = pid_ticks(pid)
            if ticks is not None:
                # A backend born during the run counts from zero.
                self.first.setdefault(pid, ticks if not self.thread.is_alive() else 0)
                self.last[pid] = ticks

    def run(self) -> None:
        import psycopg

        with psycopg.connect(database_url(), autocommit=True) as conn:
            while not self.done.wait(1.0):
                self.sample(conn)
            self.sample(conn)

    def start(self) -> DatabaseCpu:
        import psycopg

        with psycopg.connect(database_url(), autocommit=True) as conn:
            self.sample(conn)  # the backends already there count from now
        self.thread.start()
        return self

    def stop(self) -> float:
        self.done.set()
        self.thread.join(timeout=30)
        ticks = sum(self.last[pid] - self.first.get(pid, 0) for pid in self.last)
        return ticks / os.sysconf("SC_CLK_TCK")


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    return f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- 1. the image work's cost -------------------------------------------------------------------


def image_work_cost(owner, fake) -> tuple[float, float]:
    """CPU-seconds and wall seconds of one job's image work, the way the studio's store task
    does it (medians)."""
    from studio.engine import store
    from studio.vendors.base import ImageSource

    def one() -> tuple[float, float]:
        job = downloading_job(owner)
        url = f"{fake.url}/files/{fake.store_png(1024, 1024, 'cost', 'cost')}"
        started, wall = own_cpu_seconds(), time.monotonic()
        store.store_results(job, [ImageSource(url=url)])
        return own_cpu_seconds() - started, time.monotonic() - wall

    one(), one()  # imports, Pillow's plugins, connections
    costs = [one() for _ in range(COST_JOBS)]
    cpu = sorted(c for c, _ in costs)
    wall = sorted(w for _, w in costs)
    return cpu[len(cpu) // 2], wall[len(wall) // 2]


def downloading_job(owner):
    from django.utils import timezone

    from studio.models import Generation

    now = timezone.now()
    return Generation.objects.create(
        owner=owner,
        vendor="chatbp",
        model="dall-e-3",
        prompt="cost",
        status=Generation.Status.DOWNLOADING,
        deadline=now + timezone.timedelta(minutes=15),
        running_at=now,
        downloading_at=now,
    )


# --- 2. the studio with two clusters ------------------------------------------------------------


def seed_history(low: float, high: float) -> None:
    """The pacing history a studio that has run this model has: recent vendor times."""
    from django.core.cache import cache

    from studio.engine import pacing

    cache.delete(pacing._key("chatbp", "dall-e-3"))
    cache.delete(pacing._windows_key("chatbp", "dall-e-3"))
    for seconds in spread_times(pacing.SAMPLES, low, high):
        pacing.record_duration("chatbp", "dall-e-3", seconds)


def start_clusters(tmp: Path, count: int, env: dict) -> list:
    from tests.worker import Worker, wait_for

    workers = []
    for i in range(1, count + 1):
        log_dir = tmp / f"cluster-{i}"
        log_dir.mkdir(parents=True, exist_ok=True)
        workers.append(Worker(log_dir).start(**env))
    for worker in workers:
        wait_for(lambda w=worker: "ready for work" in w.output(), 60, message="no cluster")
    return workers


def task_counts(worker) -> dict[str, int]:
    """How many tasks of each kind this cluster ran, from its log."""
    counts: dict[str, int] = {}
    for task in re.findall(r"Process-[\w:.-]+ processing (submit|store|poller)", worker.output()):
        counts[task] = counts.get(task, 0) + 1
    return counts


def in_flight(owner) -> int:
    from studio.models import Generation

    return Generation.objects.filter(owner=owner, status__in=Generation.IN_FLIGHT).count()


def submit(owner, credential, prompt: str) -> None:
    from studio.engine.services import create_generation

    create_generation(
        owner,
        vendor="chatbp",
        credential=credential,
        model="dall-e-3",
        prompt=prompt,
        params={"size": "1024x1024"},
    )


def studio_run(fake, owner, credential, workers, durations: dict, rate: float) -> dict:
    """Submits the jobs at `rate` a second, waits until every one has ended; the figures."""
    from studio.models import Generation

    with fake.lock:
        fake.requests.clear()
    before = [tree_cpu_seconds(w.proc.pid) for w in workers]
    own_before = own_cpu_seconds()
    database_cpu = DatabaseCpu().start()
    before_tasks = [task_counts(w) for w in workers]
    clock = harness.Stopwatch()
    peak = 0
    prompts = list(durations)
    for i, prompt in enumerate(prompts):
        target = i / rate
        harness.wait_until(clock, target)
        submit(owner, credential, prompt)
        if i % 25 == 24:
            peak = max(peak, in_flight(owner))
    arrival_s = clock()
    deadline = time.monotonic() + 600 + max(durations.values())
    while time.monotonic() < deadline:
        left = in_flight(owner)
        peak = max(peak, left)
        if not left:
            break
        time.sleep(0.5)
    elapsed = clock()
    cpu = [tree_cpu_seconds(w.proc.pid) - b for w, b in zip(workers, before, strict=True)]
    own = own_cpu_seconds() - own_before
    database = database_cpu.stop()
    jobs = len(prompts)
    generations = list(Generation.objects.filter(owner=owner, prompt__in=prompts))
    ready = ready_times(fake, durations)
    done = [g for g in generations if g.status == "succeeded" and g.prompt in ready]
    overheads = [g.finished_at.timestamp() - ready[g.prompt] for g in done]
    noticed = [g.downloading_at.timestamp() - ready[g.prompt] for g in done]
    stored = [(g.finished_at - g.downloading_at).total_seconds() for g in done]
    counts = request_counts(fake, "/v1/images/generations", "/v1/images/tasks/")
    waited, ran = store_task_times(done)
    tasks = []
    for worker, earlier in zip(workers, before_tasks, strict=True):
        now = task_counts(worker)
        tasks.append({k: v - earlier.get(k, 0) for k, v in now.items() if v > earlier.get(k, 0)})
    return {
        "jobs": jobs,
        "succeeded": len(done),
        "statuses": {
            s: sum(1 for g in generations if g.status == s) for s in statuses(generations)
        },
        "overhead_s": harness.summary(overheads) if overheads else None,
        # The overhead in two parts: the poll that saw the job done, then the store task.
        "first_poll_after_ready_s": poll_lateness(fake, ready),
        "ready_to_noticed_s": harness.summary(noticed) if noticed else None,
        "noticed_to_stored_s": harness.summary(stored) if stored else None,
        # …and the store task's part: noticed → task started (hand-over and the queue), and
        # the task's own run (django-q's task rows: a sample, it keeps the last 1,000 tasks).
        "noticed_to_task_started_s": harness.summary(waited) if waited else None,
        "store_task_run_s": harness.summary(ran) if ran else None,
        "load_1m_at_end": os.getloadavg()[0],
        "peak_in_flight": peak,
        "arrival_s": arrival_s,
        "elapsed_s": elapsed,
        "vendor_s": [min(durations.values()), max(durations.values())],
        "submits_per_job": counts["submit"] / jobs,
        "polls_per_job": counts["poll"] / jobs,
        "downloads_per_job": counts["download"] / jobs,
        "cluster_cpu_s": cpu,
        "cpu_s_per_job": sum(cpu) / jobs,
        "bench_process_cpu_s_per_job": own / jobs,
        "database_cpu_s_per_job": database / jobs,
        "tasks_per_cluster": tasks,
    }


def store_task_times(done) -> tuple[list[float], list[float]]:
    from django_q.models import Task

    noticed = {f"store {g.pk}": g.downloading_at for g in done}
    waited, ran = [], []
    for name, started, stopped in Task.objects.filter(name__in=list(noticed)).values_list(
        "name", "started", "stopped"
    ):
        waited.append((started - noticed[name]).total_seconds())
        ran.append((stopped - started).total_seconds())
    return waited, ran


def statuses(generations) -> list[str]:
    return sorted({g.status for g in generations})


# --- 3. the ideal client ------------------------------------------------------------------------


class Ideal:
    """Told the moment each job is ready: one request for the result, the download, the image
    work as the studio does it (`images.process`, both files written to the media storage)."""

    def __init__(self, fake, durations: dict):
        import httpx

        self.fake = fake
        self.durations = durations
        self.client = httpx.Client(
            base_url=fake.url,
            headers={"Authorization": f"Bearer {KEY}"},
            trust_env=False,
            timeout=30,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=1000),
        )
        self.finished: dict[str, float] = {}
        self.errors = 0

    def run_one(self, prompt: str) -> None:
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage

        from studio.engine import images

        try:
            path, body = CHATBP["submit"]
            task_id = self.client.post(path, json=body(prompt)).json()["task_id"]
            created = self.fake.tasks[task_id].created  # the vendor's clock (monotonic)
            time.sleep(max(0.0, created + self.durations[prompt] - time.monotonic()))
            result = self.client.get(CHATBP["poll"].format(task_id=task_id)).json()
            data = self.client.get(CHATBP["image_of"](result)).content
            processed = images.process(data)
            default_storage.save(
                f"ideal/{task_id}.{processed.extension}", ContentFile(processed.content)
            )
            default_storage.save(f"ideal/{task_id}.webp", ContentFile(processed.thumbnail))
            self.finished[prompt] = time.time()
        except Exception:  # counted and shown; the run goes on
            self.errors += 1

    def run(self, rate: float) -> None:
        clock = harness.Stopwatch()
        threads = []
        for i, prompt in enumerate(self.durations):
            target = i / rate
            harness.wait_until(clock, target)
            thread = threading.Thread(target=self.run_one, args=(prompt,), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join(timeout=600)


def ideal_run(durations: dict, rate: float) -> dict:
    fake = bench_fake("chatbp", durations)
    ideal = Ideal(fake, durations)
    try:
        ideal.run(rate)
    finally:
        fake.stop()
    ready = ready_times(fake, durations)
    overheads = [ideal.finished[p] - ready[p] for p in ideal.finished]
    return {
        "jobs": len(durations),
        "succeeded": len(ideal.finished),
        "errors": ideal.errors,
        "overhead_s": harness.summary(overheads) if overheads else None,
    }


# --- the scenario -------------------------------------------------------------------------------


def plan(jobs: int, rate: float, window: float | None = None) -> dict[str, float]:
    """Prompt → vendor time: spread over the arrival window + MARGIN, so all jobs are in flight
    at once."""
    window = jobs / rate if window is None else window
    low, high = window + MARGIN[0], window + MARGIN[1]
    return dict(
        zip(
            [f"relay {jobs} job {i}" for i in range(jobs)],
            spread_times(jobs, low, high),
            strict=True,
        )
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay")
    parser.add_argument("--jobs", type=int, nargs="+", default=SIZES, help="jobs in flight")
    parser.add_argument("--budget", type=float, default=BUDGET, help="image work, in cores")
    parser.add_argument("--clusters", type=int, default=2)
    parser.add_argument("--poll", type=float, default=POLL, help="seconds between polls")
    args = parser.parse_args(argv)

    if not os.environ.get("BENCH_DATABASE_URL"):
        result = {"machine": harness.machine(), "database": "SQLite", "skipped": SKIPPED}
        harness.record("relay", result)
        print("\n".join(report(result)), flush=True)
        return result

    clock = harness.Stopwatch()
    tmp = harness.setup("relay")
    logging.getLogger("django-q").setLevel(logging.WARNING)  # a line for every task enqueued
    result = {"machine": harness.machine(), "database": harness.database_label()}
    from django.conf import settings
    from django.contrib.auth.models import User

    from accounts.vault import add_credential

    # One fake for the cost and every N (its request log is cleared before each N). It reads
    # the vendor times from this dict, filled in once the rate is known.
    vendor_times: dict[str, float] = {}
    fake = bench_fake("chatbp", vendor_times)
    settings.STUDIO_VENDOR_URLS = {"chatbp": fake.url}
    owner = User.objects.create_user("relay", "relay@example.com", "x" * 20)
    credential = add_credential(owner, "chatbp", "bench", KEY)

    cost, cost_wall = image_work_cost(owner, fake)
    rate = args.budget / cost
    result.update(
        image_work_cpu_s=cost,
        image_work_wall_s=cost_wall,
        budget_cores=args.budget,
        rate_per_s=rate,
        clusters=args.clusters,
        workers_per_cluster=settings.Q_CLUSTER["workers"],
        poll_concurrency=settings.STUDIO_POLL_CONCURRENCY,
        poll_s=args.poll,
    )
    durations = {n: plan(n, rate) for n in args.jobs}
    warm_up = {f"relay warm-up {i}": d for i, d in enumerate(spread_times(10, 3.0, 5.0))}
    for times in (warm_up, *durations.values()):
        vendor_times.update(times)

    env = {"STUDIO_VENDOR_POLL": json.dumps({"chatbp": args.poll})}
    workers = start_clusters(tmp, args.clusters, env)
    runs = {}
    try:
        seed_history(3.0, 5.0)
        studio_run(fake, owner, credential, workers, warm_up, rate)  # every process warmed up
        for n in args.jobs:
            low, high = min(durations[n].values()), max(durations[n].values())
            seed_history(low, high)
            runs[str(n)] = studio_run(fake, owner, credential, workers, durations[n], rate)
            print(f"  {n} jobs: {json.dumps(runs[str(n)]['overhead_s'])}", flush=True)
    finally:
        for worker in workers:
            worker.stop()
        fake.stop()
    result["runs"] = runs
    ideal_n = min(args.jobs)
    # The floor does not depend on how long the vendor takes: vendor times of MARGIN only.
    result["ideal"] = ideal_run(plan(ideal_n, rate, window=0.0), rate)
    result["wall_s"] = clock()
    harness.record("relay", result)
    print("\n".join(report(result)), flush=True)
    return result


def report(result: dict) -> list[str]:
    if "skipped" in result:
        lines = [f"Relay at scale, two qclusters ({result['database']})"]
        for n in SIZES:
            lines.append(harness.line(f"relay, {n:,} jobs in flight", result["skipped"]))
        lines.append(harness.line("ideal client; CPU per job 2,000 ÷ 500", result["skipped"]))
        return lines
    runs = result["runs"]
    lines = [
        f"Relay at scale ({result['database']}, {result['machine']['cpu']}, load "
        f"{result['machine']['load_1m_at_start']} at start): {result['clusters']} qclusters × "
        f"{result['workers_per_cluster']} workers, polls every {result['poll_s']:g} s",
        harness.line(
            "image work budget",
            f"{result['budget_cores']:.2f} core average "
            f"({result['image_work_cpu_s'] * 1000:.0f} ms CPU a job × {result['rate_per_s']:.1f} "
            f"jobs/s; {result.get('image_work_wall_s', 0) * 1000:.0f} ms wall alone)",
            "≤ 1 core",
            result["budget_cores"] <= 1,
        ),
    ]
    ideal = result["ideal"]["overhead_s"]
    for n, run in runs.items():
        o = run["overhead_s"]
        all_in = run["peak_in_flight"] >= run["jobs"] and run["succeeded"] == run["jobs"]
        lines += [
            harness.line(
                f"relay, {int(n):,} jobs (peak {run['peak_in_flight']} in flight)",
                f"{run['succeeded']}/{run['jobs']} stored in {run['elapsed_s']:.0f} s",
                "all in flight, all stored",
                all_in,
            ),
            harness.line(
                "  overhead median",
                f"{o['median']:.2f} s" if o else "n/a",
                f"< {GOAL_MEDIAN} s",
                bool(o) and o["median"] < GOAL_MEDIAN,
            ),
            harness.line(
                "  overhead p95",
                f"{o['p95']:.2f} s" if o else "n/a",
                f"< {GOAL_P95} s",
                bool(o) and o["p95"] < GOAL_P95,
            ),
            harness.line(
                "  of which: first poll after ready; stored",
                f"{part(run['first_poll_after_ready_s'])}; {part(run['noticed_to_stored_s'])}",
            ),
            harness.line(
                "  stored: task started; task ran (sample)",
                f"{part(run.get('noticed_to_task_started_s'))}; "
                f"{part(run.get('store_task_run_s'))} (load {run.get('load_1m_at_end', 0):.1f} "
                "at the end)",
            ),
            harness.line(
                "  paid submits per job (fake's log)",
                f"{run['submits_per_job']:.3f}",
                "exactly 1",
                run["submits_per_job"] == 1,
            ),
            harness.line(
                "  CPU per job, both clusters",
                f"{run['cpu_s_per_job'] * 1000:.0f} ms ({run['polls_per_job']:.1f} polls a job)",
            ),
            harness.line(
                "  CPU per job, PostgreSQL; bench process",
                f"{run.get('database_cpu_s_per_job', 0) * 1000:.0f} ms (at least); "
                f"{run['bench_process_cpu_s_per_job'] * 1000:.0f} ms (fake vendor, submits)",
            ),
            harness.line(
                "  tasks per cluster",
                "; ".join(
                    ", ".join(f"{k} {v}" for k, v in sorted(t.items())) or "none"
                    for t in run["tasks_per_cluster"]
                ),
            ),
        ]
        if o and ideal:
            lines.append(
                harness.line(
                    "  studio ÷ ideal client, median / p95",
                    f"{o['median'] / ideal['median']:.1f}× / {o['p95'] / ideal['p95']:.1f}×",
                )
            )
    if ideal:
        lines.append(
            harness.line(
                f"ideal client, {result['ideal']['jobs']} jobs: median / p95",
                f"{ideal['median']:.2f} / {ideal['p95']:.2f} s "
                f"({result['ideal']['succeeded']} stored)",
            )
        )
    per_job = {n: run["cpu_s_per_job"] for n, run in runs.items()}
    lines.append(
        harness.line(
            "CPU per job, " + " / ".join(f"{int(n):,}" for n in per_job),
            " / ".join(f"{v * 1000:.0f}" for v in per_job.values()) + " ms",
        )
    )
    if "500" in per_job and "2000" in per_job:
        flat = per_job["2000"] / per_job["500"]
        lines.append(
            harness.line(
                "CPU per job, 2,000 ÷ 500",
                f"{flat:.2f}",
                f"≤ {GOAL_CPU_RATIO}",
                flat <= GOAL_CPU_RATIO,
            )
        )
    lines.append(harness.line("wall time of the scenario", f"{result['wall_s'] / 60:.1f} min"))
    return lines


def part(figure: dict | None) -> str:
    return f"median {figure['median']:.2f} s" if figure else "n/a"


if __name__ == "__main__":
    main()
