"""The Procfile's web process, exactly as written, serving the studio with production settings."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from studio.settings import BASE_DIR
from tests.worker import wait_for, worker_env

pytestmark = pytest.mark.slow
HTTPS = {"X-Forwarded-Proto": "https"}  # what the proxy in front of gunicorn adds
SECRET_KEY = "gunicorn-smoke-test-" + "k" * 40


def procfile() -> dict[str, str]:
    lines = (BASE_DIR / "Procfile").read_text().splitlines()
    return {
        name.strip(): command.strip()
        for name, _, command in (line.partition(":") for line in lines)
        if command and not name.startswith("#")
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    env = worker_env(
        {
            "DEBUG": "false",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "EMAIL_HOST": "smtp.example.com",
            "STATIC_ROOT": str(tmp_path / "static"),
            "WEB_CONCURRENCY": "2",
            "PORT": str(free_port()),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    # The Procfile's command as written, on loopback only (tests never listen elsewhere).
    command = procfile()["web"].replace("0.0.0.0", "127.0.0.1")
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["sh", "-c", f"exec {command}"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    client = httpx.Client(base_url=base, trust_env=False, timeout=10)

    def up():
        with contextlib.suppress(httpx.TransportError):
            return client.get("/healthz", headers=HTTPS).status_code == 200
        return False

    try:
        wait_for(up, 60, message=(tmp_path / "gunicorn.log").read_text(errors="replace"))
        yield proc, client
    finally:
        client.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_the_procfile_web_process_serves_the_studio_in_production_mode(gunicorn):
    proc, client = gunicorn

    health = client.get("/healthz", headers=HTTPS)
    assert health.json()["database"] == "ok"
    assert "max-age=31536000" in health.headers["Strict-Transport-Security"]

    # Plain HTTP is sent to HTTPS, as behind a proxy that forwards both.
    insecure = client.get("/accounts/login/")
    assert insecure.status_code == 301
    assert insecure.headers["Location"].startswith("https://127.0.0.1")

    login = client.get("/accounts/login/", headers=HTTPS)
    assert login.status_code == 200
    assert "Secure" in login.headers["Set-Cookie"]
    # whitenoise serves collected, content-hashed, compressed static files with a long cache.
    stylesheet = re.search(r'href="(/static/css/studio\.[0-9a-f]{12}\.css)"', login.text)
    assert stylesheet, "the page does not use the hashed stylesheet"
    css = client.get(stylesheet.group(1), headers={**HTTPS, "Accept-Encoding": "gzip"})
    assert css.status_code == 200
    assert css.headers["Content-Encoding"] == "gzip"
    assert "immutable" in css.headers["Cache-Control"]

    # SIGTERM to the master (what systemd and platforms send) stops it gracefully.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_the_procfile_and_units_run_the_web_app_and_workers_safely():
    processes = procfile()
    assert set(processes) == {"release", "web", "worker"}
    assert "migrate" in processes["release"]
    assert processes["worker"] == "python manage.py qcluster"
    assert "deploy/gunicorn.conf.py" in processes["web"]

    web = (BASE_DIR / "deploy/systemd/studio-web.service").read_text()
    worker = (BASE_DIR / "deploy/systemd/studio-worker@.service").read_text()
    assert "gunicorn --config deploy/gunicorn.conf.py studio.asgi" in web
    assert "manage.py qcluster" in worker
    # qcluster hangs when its whole process group gets SIGTERM (django-q2 #346).
    assert re.search(r"^KillMode=mixed$", worker, re.MULTILINE)
