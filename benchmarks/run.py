"""`make bench`: every scenario, each in its own process, then every figure with its goal.

Scenarios: engine (overhead, girlgenerator vs the naive client), relay (500, 1,000 and 2,000
relay jobs in flight on two qclusters, PostgreSQL only, against the ideal client), handover
(the poller's CPU per finished job, image work handed to a task vs done in the poller),
gallery, images, ratelimit
(bursts after a 429: a limit learned from 429s against learning switched off), compare (the
comparison page at 8 targets against the job page, the scoreboard), api (the OpenAI-compatible
endpoints through gunicorn's uvicorn workers: demo throughput, 100 waiting clients vs the
gallery), million (the gallery, its search and the credits page of a user with 100,000 images
among 1,000,000). Figures are kept in var/bench/<scenario>.json; benchmarks/README.md has the latest
ones with their machine.
Run one: `python -m benchmarks.run engine`.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time

from benchmarks import harness

SCENARIOS = [
    "engine",
    "relay",
    "handover",
    "gallery",
    "million",
    "images",
    "ratelimit",
    "compare",
    "api",
    "downloads",
]


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or SCENARIOS
    print(f"Image Studio benchmarks on {harness.machine()}", flush=True)
    failed = []
    for name in names:
        started = time.monotonic()
        print(f"\n== {name}", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}"],
            cwd=harness.ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if done.returncode:
            print(done.stderr[-3000:], flush=True)
            failed.append(name)
            continue
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    print("\n== figures", flush=True)
    for name in names:
        path = harness.RESULTS / f"{name}.json"
        if name in failed or not path.exists():
            print(f"{name}: no figures (the scenario failed)")
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        print("\n".join(module.report(json.loads(path.read_text()))), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
