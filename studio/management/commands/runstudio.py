"""Serves the studio and one queue worker together until Ctrl+C, then stops both.

If this command dies without stopping them (SIGKILL, the OOM killer), its children must not live
on, holding the port and working the queue with the settings of a dead run: each child runs
through `run_child` below, which ends it, and everything it started, when its parent is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time

from django.core.management.base import BaseCommand

GRACE_SECONDS = 10
LINUX = sys.platform.startswith("linux")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def parent_death_signal(parent: int):
    """On Linux, a preexec_fn that has the kernel send SIGTERM to the child the moment its
    parent dies. Elsewhere None: the child's watch thread sends it."""
    if not LINUX:
        return None
    # Loaded here, in the parent: loading a library between fork and exec is not safe.
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)  # the parent died before prctl: no signal will ever come

    return preexec


def watch_parent(parent: int) -> None:
    """Runs in the child. SIGTERM first: qcluster then stops its workers, which finish their
    task (a SIGKILL of its main process alone leaves them running, checked with django-q2
    1.11). After the grace period, everything in the child's own session goes, however the
    stop went."""
    while os.getppid() == parent:
        time.sleep(0.5)
    if not LINUX:
        os.kill(os.getpid(), signal.SIGTERM)  # on Linux the kernel has sent it already
    time.sleep(GRACE_SECONDS)
    os.killpg(os.getpgid(0), signal.SIGKILL)


def run_child(parent: int, argv: list[str]) -> None:
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *argv])


class Command(BaseCommand):
    help = "Run the web app and a django-q2 worker together (development)."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default="127.0.0.1")

    def start(self, *argv: str) -> subprocess.Popen:
        # Each child gets its own session: a Ctrl+C in the terminal reaches only this process,
        # which then signals each child's main PID. django-q2's qcluster hangs when its whole
        # process group receives SIGTERM/SIGINT (django-q2 issue #346), but exits in a second or
        # two when only its main process is signalled.
        return subprocess.Popen(
            [sys.executable, "-m", __name__, str(os.getpid()), *argv],
            start_new_session=True,
            preexec_fn=parent_death_signal(os.getpid()),
        )

    def handle(self, *args, host: str, port: str, **options):
        children = {
            "worker": self.start("qcluster"),
            # --noreload: the autoreloader would serve from a grandchild of this process.
            "web": self.start("runserver", "--noreload", f"{host}:{port}"),
        }
        self.stdout.write(f"Image Studio at http://{host}:{port}/ (Ctrl+C stops it)")

        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stopping and all(child.poll() is None for child in children.values()):
            time.sleep(0.2)

        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {GRACE_SECONDS} s; killing it.")
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        failed = [n for n, c in children.items() if c.returncode not in (0, -signal.SIGTERM)]
        if failed and not stopping:
            self.stderr.write(f"{', '.join(failed)} exited unexpectedly.")
            sys.exit(1)


if __name__ == "__main__":
    # A child: python -m studio.management.commands.runstudio <parent pid> <manage.py args…>
    run_child(int(sys.argv[1]), sys.argv[2:])
