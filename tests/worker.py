"""A real django-q2 worker process against the test database, for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from studio.settings import BASE_DIR


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if db["ENGINE"].endswith("sqlite3"):
        env["STUDIO_SQLITE_PATH"] = str(db["NAME"])
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env.update(
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        STUDIO_VAULT_KEYS=",".join(settings.STUDIO_VAULT_KEYS),
        STUDIO_VENDOR_URLS=",".join(f"{k}={v}" for k, v in settings.STUDIO_VENDOR_URLS.items()),
        STUDIO_POLL_SCALE=str(settings.STUDIO_POLL_SCALE),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


class Worker:
    """`manage.py qcluster` in its own session, so that it can be killed as a whole."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def start(self, **extra_env: str) -> Worker:
        self.runs += 1
        log = open(self.log_dir / f"worker-{self.runs}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env=worker_env(extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """What a crash or the OOM killer does: SIGKILL to every process of the cluster. Returns
        once every one of them is gone, not only the main one: a dying pusher still blocked in
        Redis's BLPOP for a few milliseconds more is handed the next task pushed and takes it
        to its grave (a task pushed at once after the main process was reaped went so in 10
        of 20 tries), which would be a loss no restart of this cluster ever sees."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            wait_for(lambda: not group_running(self.proc.pid), 10, 0.01, "the cluster survived")

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        # The main PID only: qcluster hangs when its whole group gets SIGTERM.
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def output(self) -> str:
        return "".join(
            (self.log_dir / f"worker-{n}.log").read_text(errors="replace")
            for n in range(1, self.runs + 1)
        )


def group_running(pgid: int) -> bool:
    """Whether a process of the group is still running. A zombie has closed its files (and
    sockets): the orphans of a killed cluster stay zombies until init reaps them."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (name) state ppid pgrp …": the name may hold spaces and parentheses.
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(pgrp) == pgid and state not in "ZX":
            return True
    return False


def wait_for(predicate, timeout: float, interval: float = 0.2, message: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s: {message}")
