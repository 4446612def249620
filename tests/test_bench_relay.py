"""The relay benchmark's own measuring: CPU of a process tree, and a plan that keeps every job
in flight at once (benchmarks/relay.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks.relay import plan, tree_cpu_seconds

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


def test_tree_cpu_counts_a_child_that_has_exited_and_been_reaped():
    before = tree_cpu_seconds(os.getpid())
    subprocess.run([sys.executable, "-c", BURN], check=True)  # waited for: reaped
    # The child is gone: its CPU is found only in this process's cutime/cstime.
    assert tree_cpu_seconds(os.getpid()) - before >= 0.25


def test_tree_cpu_counts_a_living_child_and_what_it_reaped():
    # The child runs a grandchild to its end, then waits: the grandchild's CPU is in the
    # child's cutime, which only a walk from this process down to the living child finds.
    script = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BURN!r}]); input()"
    before = tree_cpu_seconds(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)
    try:
        for _ in range(100):
            if tree_cpu_seconds(os.getpid()) - before >= 0.25:
                break
            time.sleep(0.05)
        assert child.poll() is None  # still alive: not yet in this process's cutime
        assert tree_cpu_seconds(os.getpid()) - before >= 0.25
    finally:
        child.communicate(b"\n", timeout=10)


def test_every_job_is_still_at_the_vendor_when_the_last_one_arrives():
    for jobs in (500, 1000, 2000):
        rate = 11.0
        times = plan(jobs, rate)
        assert len(times) == jobs
        assert min(times.values()) > (jobs - 1) / rate  # the last arrival
