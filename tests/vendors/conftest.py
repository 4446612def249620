from __future__ import annotations

import io
import socket
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from studio.vendors import ADAPTERS
from studio.vendors.base import (
    Accepted,
    Adapter,
    Connection,
    Finished,
    GenerationRequest,
    Running,
)
from studio.vendors.fakes import FakeServer, FakeVendor

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-test-4f9a2b7c1d8e"
MGMT = "mt-test-8e3d5a0b6c"
EMPTY_KEY = "sk-test-empty-0000"
EMPTY_MGMT = "mt-test-empty-000"
VENDORS = ("girlgenerator", "aioagi", "lemondata", "chatbp", "chatfire")


@dataclass(frozen=True)
class Profile:
    """How to drive one vendor through the common scenarios."""

    request: GenerationRequest
    is_async: bool
    submit_path: str
    poll_prefix: str | None
    size: tuple[int, int]
    invalid: GenerationRequest
    invalid_field: str
    fake_options: dict[str, Any] = field(default_factory=dict)


PROFILES = {
    "girlgenerator": Profile(
        GenerationRequest("text-to-image", "default", "a lighthouse", {"aspect_ratio": "16:9"}),
        True,
        "/api/v1/generate",
        "/api/v1/tasks/",
        (1344, 768),
        GenerationRequest("text-to-image", "default", "x" * 2001),
        "prompt",
    ),
    "aioagi": Profile(
        GenerationRequest("text-to-image", "gpt-image-2", "a lighthouse", {"size": "1536x1024"}),
        False,
        "/v1/images/generations",
        None,
        (1536, 1024),
        GenerationRequest("text-to-image", "gpt-image-2", "a lighthouse", {"size": "512x512"}),
        "size",
    ),
    "lemondata": Profile(
        GenerationRequest("text-to-image", "flux-pro", "a lighthouse", {"size": "512x512"}),
        True,
        "/v1/images/generations",
        "/v1/images/generations/",
        (512, 512),
        GenerationRequest("text-to-image", "dall-e-3", "a lighthouse", {"n": 2}),
        "n",
    ),
    "chatbp": Profile(
        GenerationRequest("text-to-image", "dall-e-3", "a lighthouse", {"size": "1792x1024"}),
        True,
        "/v1/images/generations?async=true",
        "/v1/images/tasks/",
        (1792, 1024),
        GenerationRequest("text-to-image", "dall-e-3", "a lighthouse", {"size": "512x512"}),
        "size",
    ),
    "chatfire": Profile(
        GenerationRequest("text-to-image", "seedream-3.0", "a lighthouse", {"n": 2}),
        True,
        "/v1/images/generations",
        "/v1/images/task/",
        (1024, 1024),
        GenerationRequest("text-to-image", "seedream-3.0", "a lighthouse", {"n": 5}),
        "n",
        {"instant": False},
    ),
}


@dataclass
class Env:
    vendor: str
    fake: FakeServer
    adapter: Adapter
    client: httpx.Client
    profile: Profile

    def conn(self, key: str = KEY, **overrides: Any) -> Connection:
        values: dict[str, Any] = {
            "base_url": self.fake.url,
            "api_key": key,
            "client": self.client,
            "extra_secret": MGMT,
        }
        values.update(overrides)
        return Connection(**values)

    def submit(self, req: GenerationRequest | None = None, **conn: Any):
        return self.adapter.submit(self.conn(**conn), req or self.profile.request)

    def run(self, req: GenerationRequest | None = None, **conn: Any):
        """Submit, then poll until the job ends."""
        return finish(self.adapter, self.conn(**conn), self.submit(req, **conn))

    def submits(self) -> list:
        return [r for r in self.fake.requests if r.method == "POST"]


def finish(adapter: Adapter, conn: Connection, result: Any, limit: int = 60) -> Any:
    if not isinstance(result, Accepted):
        return result
    for _ in range(limit):
        time.sleep(0.03)
        polled = adapter.poll(conn, result.remote_id, result.poll_url)
        if not isinstance(polled, Running):
            return polled
    raise AssertionError("the job never finished")


def png_bytes(width: int = 64, height: int = 64, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def image_bytes(client: httpx.Client, finished: Finished) -> list[bytes]:
    """Each result image as bytes: decoded base64, or downloaded from the fake."""
    result = []
    for image in finished.images:
        if image.data is not None:
            result.append(image.data)
        else:
            resp = client.get(image.url)
            assert resp.status_code == 200, image.url
            result.append(resp.content)
    return result


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=httpx.Timeout(2.0, connect=1.0)) as c:
        yield c


@pytest.fixture
def fakes() -> Iterator[Any]:
    """Start fakes on demand; all stopped at the end of the test."""
    started: list[FakeServer] = []

    def start(vendor: str, **options: Any) -> FakeServer:
        options = {"pending_s": 0.05, "processing_s": 0.05, "stall_s": 0.6, **options}
        fake = FakeVendor(vendor, **options).start()
        fake.add_key(KEY, 10, management_token=MGMT)
        fake.add_key(EMPTY_KEY, 0, management_token=EMPTY_MGMT)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def make_env(vendor: str, fakes: Any, client: httpx.Client, **options: Any) -> Env:
    profile = PROFILES[vendor]
    fake = fakes(vendor, **options)
    for name, value in profile.fake_options.items():
        setattr(fake, name, value)
    return Env(vendor, fake, ADAPTERS[vendor], client, profile)


@pytest.fixture(params=VENDORS)
def env(request: pytest.FixtureRequest, fakes: Any, client: httpx.Client) -> Env:
    return make_env(request.param, fakes, client)


@pytest.fixture(params=[v for v in VENDORS if PROFILES[v].is_async])
def async_env(request: pytest.FixtureRequest, fakes: Any, client: httpx.Client) -> Env:
    return make_env(request.param, fakes, client)


@pytest.fixture
def vendor_settings(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """A stand-in for django.conf.settings: no Django needed, and real settings kept out."""
    conf = types.SimpleNamespace(configured=True)
    django = types.ModuleType("django")
    module = types.ModuleType("django.conf")
    module.settings = conf  # type: ignore[attr-defined]
    django.conf = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "django", django)
    monkeypatch.setitem(sys.modules, "django.conf", module)
    return conf
