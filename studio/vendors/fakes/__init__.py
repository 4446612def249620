"""Fake vendor servers for tests and manual runs, faithful to docs/VENDORS.md.

In-process::

    with FakeVendor("girlgenerator") as fake:
        fake.add_key("sk-test", credits=5)
        fake.next_submit = "read_timeout"
        ...  # point an adapter at fake.url
        fake.requests  # [(time, method, path, key), ...]

From another process, through the fake's `/_fake/` control endpoint::

    fake = RemoteFake("http://127.0.0.1:9001")
    fake.add_key("sk-test", credits=5)
    fake.set(next_submit="500", pending_s=0.2)
    fake.requests()

From a shell: `python -m studio.vendors.fakes all --port 9001`.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from studio.vendors.fakes.aioagi import AioagiFake
from studio.vendors.fakes.chatbp import ChatBpFake
from studio.vendors.fakes.chatfire import ChatFireFake
from studio.vendors.fakes.core import SCENARIOS, FakeServer, Logged
from studio.vendors.fakes.girlgenerator import GirlGeneratorFake
from studio.vendors.fakes.lemondata import LemonDataFake

FAKES: dict[str, type[FakeServer]] = {
    fake.vendor: fake
    for fake in (GirlGeneratorFake, AioagiFake, LemonDataFake, ChatBpFake, ChatFireFake)
}

__all__ = ["FAKES", "SCENARIOS", "FakeServer", "FakeVendor", "Logged", "RemoteFake"]


# Named like a class because it stands for one: `with FakeVendor("chatbp") as fake: ...`
def FakeVendor(vendor: str, host: str = "127.0.0.1", port: int = 0, **options: Any) -> FakeServer:
    """A fake server for `vendor`, not yet started (use it as a context manager)."""
    return FAKES[vendor](host, port, **options)


class RemoteFake:
    """Scripts a fake running in another process through its `/_fake/` endpoint."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with self._opener.open(request, timeout=5) as resp:
            return json.loads(resp.read())

    def add_key(self, key: str, credits: float | str = 100, management_token: str | None = None):
        body = {"key": key, "credits": str(credits), "management_token": management_token}
        return self._call("POST", "/_fake/keys", body)

    def set(self, **settings: Any) -> dict:
        return self._call("POST", "/_fake/set", settings)

    def reset(self) -> dict:
        return self._call("POST", "/_fake/reset", {})

    def state(self) -> dict:
        return self._call("GET", "/_fake/state")

    def requests(self) -> list[Logged]:
        return [Logged(*row) for row in self._call("GET", "/_fake/requests")["requests"]]
