"""A real OpenID Connect provider on loopback for the SSO tests (django-oauth-toolkit in OIDC
mode, run by serve.py in a process of its own). `LoopbackProvider(...).start()` returns once
its discovery document answers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


PORTS = range(8195, 8200)


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            # As runserver binds: a port in TIME_WAIT from a previous run is free to use.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"ports {PORTS.start}-{PORTS.stop - 1} are all taken")


class LoopbackProvider:
    def __init__(self, tmp: Path, port: int, client_id: str, secret: str, users: list[dict]):
        self.tmp, self.port = tmp, port
        self.client_id, self.secret = client_id, secret
        self.users = users
        self.url = f"http://127.0.0.1:{port}/o"  # the issuer
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> LoopbackProvider:
        config = self.tmp / "provider.json"
        config.write_text(
            json.dumps(
                {
                    "port": self.port,
                    # A loopback redirect URI matches any port (RFC 8252 7.3), as the studio
                    # under test listens on whichever port live_server took.
                    "client": {
                        "id": self.client_id,
                        "secret": self.secret,
                        "redirect_uris": ["http://127.0.0.1/accounts/oidc/testop/login/callback/"],
                    },
                    "users": self.users,
                }
            )
        )
        config.chmod(0o600)
        self.log = self.tmp / "provider.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.oidc_provider.serve", str(config)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the test provider stopped:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/.well-known/openid-configuration").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the test provider did not answer in {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
