"""`make run`'s command: the web app and a worker come up together and stop together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from studio.settings import BASE_DIR

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_serves_the_studio_with_a_worker_and_stops_on_ctrl_c(tmp_path):
    env = {**os.environ, "STUDIO_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=BASE_DIR, check=True, timeout=120)
    subprocess.run([*manage, "createcachetable"], env=env, cwd=BASE_DIR, check=True, timeout=60)

    port = free_port()
    proc = subprocess.Popen(
        [*manage, "runstudio", "--port", str(port)],
        env=env,
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2).json()
                if health["worker"] == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert health and health["worker"] == "ok", health
        for path in ("/accounts/signup/", "/accounts/login/", "/healthz"):
            assert httpx.get(base + path, timeout=5).status_code == 200, path
    finally:
        # What a terminal's Ctrl+C does: SIGINT to the foreground process.
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output
    assert "did not stop" not in output
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz", timeout=2)
