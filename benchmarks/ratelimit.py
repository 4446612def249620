"""Bursts after a 429: 30 jobs on one key of a vendor that documents no limit but allows 5
requests per 10 s and answers 429 with `Retry-After: 10` (the attack run's setup).

The same jobs twice, each time through a real `qcluster` against a fresh fake and a fresh
budget row:

- baseline: learning switched off (`STUDIO_RATE_LEARNING=false`): a 429 only blocks the key
  until its Retry-After, and every job deferred by the block is released when it ends;
- learned: the default; the key learns its limit from its 429s (engine/ratelimit.py).

Figures, each against the goal of the issue:

- jobs finished (all);
- requests started inside a recorded block (0): a request a worker handed to httpx's transport
  (after every request hook) after the studio had recorded a 429's block and before that block
  ended. A `sitecustomize` module on the workers' PYTHONPATH notes each start (benchmark only);
  a sampler reads the key's `blocked_until` every 20 ms, and the engine writes it as "the moment
  it records the 429 + Retry-After", so each value gives the moment it was recorded exactly
  (10 s before it). The same count at the vendor's side is shown too: it also counts requests
  sent just before a block was recorded that arrived after;
- share of requests answered 429 after the first minute (< 5 %), counted from the vendor's
  first request.

Run: `python -m benchmarks.ratelimit [--jobs N] [--only baseline]` (the baseline alone serves to
measure an older commit, which has no learning to switch on).
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from benchmarks import harness
from benchmarks.engine import Studio, bench_fake, max_in_window, run_studio, spread

VENDOR_LIMIT = (5, 10.0)
RETRY_AFTER = 10.0
FIRST_MINUTE = 60.0
GOAL_SHARE = 0.05


def sample_blocks(stop: threading.Event, seen: set) -> None:
    """Every value the budget rows' `blocked_until` takes, as epoch seconds."""
    from django.db import connection

    from studio.models import RateBudget

    while not stop.is_set():
        for until in RateBudget.objects.exclude(blocked_until=None).values_list(
            "blocked_until", flat=True
        ):
            seen.add(until.timestamp())
        time.sleep(0.02)
    connection.close()


# Loaded by the worker processes only (PYTHONPATH): notes the moment each request is handed to
# the transport, after every request hook (the studio's block check is one) has passed.
SEND_LOG = """
import os, time
import httpx

_path = os.environ["BENCH_SEND_LOG"]
_send = httpx.Client._send_single_request


def _timed(self, request):
    with open(_path, "a") as log:
        log.write(f"{time.time():.6f} {request.method} {request.url.path}\\n")
    return _send(self, request)


httpx.Client._send_single_request = _timed
"""


def run_mode(tmp, name: str, jobs: int, learning: bool) -> dict:
    from django.conf import settings

    from studio.models import RateBudget

    prompts = [f"{name} job {i}" for i in range(jobs)]
    # Vendor times spread over 10–20 s, as in the other engine scenarios.
    durations = dict(zip(prompts, spread(jobs, 10.0, 20.0), strict=True))
    fake = bench_fake("chatbp", durations, rate_limit=VENDOR_LIMIT, retry_after=RETRY_AFTER)
    replies: list[tuple[float, int, str]] = []
    handle = fake.handle

    def logged(req):
        arrived = time.time()  # the request has been read; the vendor has not answered yet
        reply = handle(req)
        if req.path.startswith("/v1/"):
            replies.append((arrived, reply.status, req.method))
        return reply

    fake.handle = logged
    instrument = tmp / f"{name}-instrument"
    instrument.mkdir()
    (instrument / "sitecustomize.py").write_text(SEND_LOG)
    send_log = tmp / f"{name}-sends.log"
    send_log.touch()

    settings.STUDIO_VENDOR_URLS = {"chatbp": fake.url}
    RateBudget.objects.all().delete()  # both modes use the same key: start from nothing
    studio = Studio("chatbp", tmp / f"{name}-worker", name)
    studio.start(
        STUDIO_RATE_LEARNING="true" if learning else "false",
        PYTHONPATH=str(instrument),
        BENCH_SEND_LOG=str(send_log),
    )
    stop, blocks = threading.Event(), set()
    sampler = threading.Thread(target=sample_blocks, args=(stop, blocks), daemon=True)
    sampler.start()
    try:
        # All at once, as a user submitting a batch does.
        generations, _peak, elapsed = run_studio(
            studio, list(durations.items()), 0.0, "dall-e-3", {"size": "1024x1024"}
        )
    finally:
        stop.set()
        sampler.join(5)
        studio.stop()
        fake.stop()
    sends = [
        float(line.split()[0])
        for line in send_log.read_text().splitlines()
        if line.split()[2].startswith("/v1/")
    ]
    budget = RateBudget.objects.first()
    return figures(generations, replies, sends, sorted(blocks), elapsed, budget)


def inside_blocks(times: list[float], blocks: list[float]) -> list[float]:
    """For each moment inside a recorded block, how long after that block was recorded (the
    first one holding it). A block recorded at r lasts until r + Retry-After: the sampled
    value is its end."""
    inside = []
    for t in times:
        offsets = [t - (until - RETRY_AFTER) for until in blocks if until - RETRY_AFTER < t < until]
        if offsets:
            inside.append(round(max(offsets), 4))
    return inside


def figures(generations, replies, sends, blocks, elapsed, budget) -> dict:
    start = replies[0][0]
    after = [status for t, status, _ in replies if t - start >= FIRST_MINUTE]
    started_inside = inside_blocks(sends, blocks)
    arrived_inside = inside_blocks([t for t, _, _ in replies], blocks)
    return {
        "jobs": len(generations),
        "succeeded": sum(g.status == "succeeded" for g in generations),
        "statuses": sorted({g.status for g in generations}),
        "elapsed_s": elapsed,
        "requests": len(replies),
        "sent": len(sends),
        "refused_429": sum(status == 429 for _, status, _ in replies),
        "posts": sum(method == "POST" for _, _, method in replies),
        "posts_429": sum(m == "POST" and status == 429 for _, status, m in replies),
        "after_first_minute": len(after),
        "after_first_minute_429": sum(status == 429 for status in after),
        "blocks_recorded": len(blocks),
        "started_inside_a_block": len(started_inside),
        "started_after_recorded_s": started_inside,
        "arrived_inside_a_block": len(arrived_inside),
        "arrived_after_recorded_s": arrived_inside,
        "most_requests_in_a_window": max_in_window([t for t, _, _ in replies], VENDOR_LIMIT[1]),
        "learned": (
            f"{budget.learned_limit} per {budget.learned_period:g} s"
            if getattr(budget, "learned_limit", None)
            else None
        ),
        "last_request_after_s": replies[-1][0] - start,
        "raw": {"replies": replies, "sends": sends, "blocks": blocks},
    }


def share(f: dict) -> float:
    return f["after_first_minute_429"] / f["after_first_minute"] if f["after_first_minute"] else 0


def report(result: dict) -> list[str]:
    base, learned = result["baseline"], result["learned"]
    limit = f"{VENDOR_LIMIT[0]} per {VENDOR_LIMIT[1]:g} s, Retry-After {RETRY_AFTER:g}"
    lines = [
        f"Bursts after a 429 ({result['database']}, {result['machine']['cpu']}): "
        f"{learned['jobs']} jobs on one chatbp key, vendor allows {limit}, no documented limit"
    ]
    for label, f in (("baseline (learning off)", base), ("learned limit", learned)):
        lines += [
            harness.line(
                label,
                f"{f['requests']} requests, {f['refused_429']} answered 429; "
                f"POSTs {f['posts']}, {f['posts_429']} answered 429",
            ),
            harness.line(
                "  jobs finished",
                f"{f['succeeded']}/{f['jobs']} in {f['elapsed_s']:.0f} s",
                "all",
                f["succeeded"] == f["jobs"],
            ),
            harness.line(
                "  requests started inside a recorded block",
                f"{f['started_inside_a_block']} ({f['blocks_recorded']} blocks)",
                "0",
                f["started_inside_a_block"] == 0,
            ),
            harness.line(
                "  … reaching the vendor inside one",
                f"{f['arrived_inside_a_block']} (sent before it was recorded)"
                if not f["started_inside_a_block"]
                else str(f["arrived_inside_a_block"]),
            ),
            harness.line(
                "  429s after the first minute",
                f"{share(f):.1%} ({f['after_first_minute_429']}/{f['after_first_minute']})",
                "< 5 %",
                share(f) < GOAL_SHARE,
            ),
            harness.line(
                "  most requests in any 10 s", f"{f['most_requests_in_a_window']} (vendor: 5)"
            ),
        ]
    lines.append(harness.line("  learned at the end", str(learned["learned"])))
    ratio_429 = f"{share(learned) / share(base):.2f}×" if share(base) else "n/a"
    ratio_time = f"{learned['elapsed_s'] / base['elapsed_s']:.2f}×"
    lines.append(harness.line("learned ÷ baseline: 429 share, time", f"{ratio_429}, {ratio_time}"))
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ratelimit")
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument(
        "--only", choices=["baseline"], help="the baseline alone (e.g. on an older commit)"
    )
    args = parser.parse_args(argv)
    tmp = harness.setup("ratelimit")
    result = {"machine": harness.machine(), "database": harness.database_label()}
    result["baseline"] = run_mode(tmp, "baseline", args.jobs, learning=False)
    if args.only:
        print(json.dumps(result, indent=2, default=str), flush=True)
        return result
    result["learned"] = run_mode(tmp, "learned", args.jobs, learning=True)
    harness.record("ratelimit", result)
    print("\n".join(report(result)), flush=True)
    return result


if __name__ == "__main__":
    main()
