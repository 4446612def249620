"""`make run`'s command: the web app and a worker come up together and stop together."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from studio.settings import BASE_DIR
from tests.worker import wait_for

pytestmark = pytest.mark.slow
MANAGE = [sys.executable, "manage.py"]


def free_port() -> int:
    """A free port, from STUDIO_TEST_PORTS (e.g. "23000-23999") when engineers sharing a machine
    have split the ports between them, else any."""
    low, _, high = os.environ.get("STUDIO_TEST_PORTS", "0-0").partition("-")
    for port in range(int(low), int(high or low) + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise AssertionError(f"no free port in {low}-{high}")


@pytest.fixture
def env(tmp_path):
    env = {**os.environ, "STUDIO_VAR_DIR": str(tmp_path), "STUDIO_WORKERS": "2"}
    env.pop("DATABASE_URL", None)
    subprocess.run([*MANAGE, "migrate", "-v0"], env=env, cwd=BASE_DIR, check=True, timeout=120)
    subprocess.run([*MANAGE, "createcachetable"], env=env, cwd=BASE_DIR, check=True, timeout=60)
    return env


def test_it_serves_the_studio_with_a_worker_and_stops_on_ctrl_c(env):
    port = free_port()
    proc = subprocess.Popen(
        [*MANAGE, "runstudio", "--port", str(port)],
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


def process_tree(root: int) -> set[int]:
    """Every process descended from root, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            found.add(pid)
            todo.append(pid)
    return found


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the process tree from /proc")
def test_its_children_end_when_it_is_killed_hard(env):
    port = free_port()
    proc = subprocess.Popen(
        [*MANAGE, "runstudio", "--port", str(port)],
        env=env,
        cwd=BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tree: set[int] = set()
    try:
        # runserver, and qcluster with its sentinel, monitor, pusher and 2 workers.
        wait_for(lambda: len(process_tree(proc.pid)) >= 7, 60, message="the cluster never rose")
        wait_for(lambda: port_answers(port), 60, message="the web server never answered")
        tree = process_tree(proc.pid)
        proc.kill()  # what the OOM killer does
        proc.wait()
        wait_for(lambda: not any(running(p) for p in tree), 5, message="children live on")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        with socket.socket() as s:  # a new runstudio could take the port again
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    finally:
        proc.kill()
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
