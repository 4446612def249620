"""The fakes themselves: scripting from another process, the CLI, the request log."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error

import httpx
import pytest

from studio.vendors.base import Connection, ErrorCode, Finished, GenerationRequest
from studio.vendors.fakes import RemoteFake
from studio.vendors.girlgenerator import GirlGenerator
from tests.vendors.conftest import KEY, PROFILES, ROOT


def test_another_process_scripts_the_fake_over_http(fakes, client: httpx.Client) -> None:
    fake = fakes("girlgenerator")
    remote = RemoteFake(fake.url)
    conn = Connection(base_url=fake.url, api_key="sk-remote-123456", client=client)

    remote.add_key("sk-remote-123456", credits=3)
    remote.set(next_submit="500", pending_s=0, processing_s=0)
    failed = GirlGenerator().submit(conn, PROFILES["girlgenerator"].request)
    accepted = GirlGenerator().submit(conn, PROFILES["girlgenerator"].request)

    assert failed.error.code == ErrorCode.VENDOR_UNAVAILABLE
    assert remote.state()["keys"]["sk-remote-123456"]["credits"] == "2"
    log = remote.requests()
    assert [(r.method, r.path, r.key) for r in log] == [
        ("POST", "/api/v1/generate", "sk-remote-123456")
    ] * 2
    assert log[0].time <= log[1].time <= time.time()
    assert isinstance(GirlGenerator().poll(conn, accepted.remote_id), Finished)
    remote.reset()
    assert remote.requests() == [] and fake.tasks == {}


def test_the_control_endpoint_refuses_unknown_settings(fakes) -> None:
    remote = RemoteFake(fakes("chatbp").url)

    with pytest.raises(urllib.error.HTTPError):
        remote.set(poll_path="/x")  # a chatfire setting
    with pytest.raises(urllib.error.HTTPError):
        remote.set(next_submit="explode")


def test_the_rate_limit_can_send_a_fixed_retry_after(fakes, client: httpx.Client) -> None:
    fake = fakes("chatbp", rate_limit=(1, 60.0))
    poll = f"{fake.url}/v1/images/tasks/none"
    auth = {"Authorization": f"Bearer {KEY}"}
    client.get(poll, headers=auth)
    assert "Retry-After" not in client.get(poll, headers=auth).headers  # as most relays
    RemoteFake(fake.url).set(retry_after=10)
    refused = client.get(poll, headers=auth)
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "10")


def test_files_that_never_existed_are_404(fakes, client: httpx.Client) -> None:
    fake = fakes("lemondata")

    assert client.get(f"{fake.url}/files/nothing.png").status_code == 404
    assert (
        client.get(f"{fake.url}/v1/nowhere", headers={"Authorization": f"Bearer {KEY}"}).status_code
        == 404
    )


def test_the_command_line_serves_all_five_until_stopped(client: httpx.Client) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio.vendors.fakes", "all", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        urls = dict(line.split()[:2] for line in lines)
        assert list(urls) == ["girlgenerator", "aioagi", "lemondata", "chatbp", "chatfire"]
        reply = client.get(
            f"{urls['chatfire']}/v1/models", headers={"Authorization": "Bearer sk-fake-chatfire"}
        )
        assert reply.status_code == 200
        assert "seedream-3.0" in reply.text
    finally:
        proc.terminate()
    assert proc.wait(timeout=5) == 0


@pytest.mark.parametrize(
    ("vendor", "path", "error"),
    [
        ("girlgenerator", "/api/v1/generate", {"code": "unauthorized"}),
        ("aioagi", "/v1/images/generations", {"code": "invalid_api_key"}),
        ("lemondata", "/v1/images/generations", {"code": "invalid_api_key"}),
        ("chatbp", "/v1/images/generations", {"code": "invalid_api_key"}),
        ("chatfire", "/v1/images/generations", {"code": "invalid_api_key"}),
    ],
)
def test_a_missing_key_gets_the_vendors_401(fakes, client, vendor, path, error) -> None:
    fake = fakes(vendor)

    reply = client.post(fake.url + path, json={"prompt": "x"})

    assert reply.status_code == 401
    assert error.items() <= reply.json()["error"].items()
    assert fake.requests[0].key is None


def test_a_prompt_can_script_the_fake(fakes, client: httpx.Client) -> None:
    fake = fakes("girlgenerator")
    conn = Connection(base_url=fake.url, api_key=KEY, client=client)
    req = GenerationRequest("text-to-image", "default", "a cat [fake:content_policy]")

    submitted = GirlGenerator().submit(conn, req)
    time.sleep(0.15)
    result = GirlGenerator().poll(conn, submitted.remote_id)

    assert result.error.code == ErrorCode.CONTENT_POLICY
