"""Serves the studio and one queue worker together until Ctrl+C, then stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

GRACE_SECONDS = 10


class Command(BaseCommand):
    help = "Run the web app and a django-q2 worker together (development)."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host: str, port: str, **options):
        manage = [sys.executable, "manage.py"]
        # Each child gets its own session: a Ctrl+C in the terminal reaches only this process,
        # which then signals each child's main PID. django-q2's qcluster hangs when its whole
        # process group receives SIGTERM/SIGINT (django-q2 issue #346), but exits in a second or
        # two when only its main process is signalled.
        children = {
            "worker": subprocess.Popen([*manage, "qcluster"], start_new_session=True),
            "web": subprocess.Popen(
                [*manage, "runserver", "--noreload", f"{host}:{port}"], start_new_session=True
            ),
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
