"""Vendor replies are read under a byte cap: a few MB for replies without images, and for
replies that may carry `n` images inline, n times the largest image the studio keeps."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from studio.vendors import ADAPTERS
from studio.vendors.base import (
    Connection,
    ErrorCode,
    Failed,
    Finished,
    GenerationRequest,
    image_reply_bytes,
)
from tests.vendors.loopback import Loopback, Scripted, fixed, gzip_bomb, image_json, text

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000
# Small caps keep these tests fast: images up to 1 MB, so n=1 replies up to 3.3 MB.
IMAGE = 1 * MB


def request(n: int = 1) -> GenerationRequest:
    return GenerationRequest("text-to-image", "gpt-image-2", "a lighthouse", {"n": n})


def submit(server: Loopback, n: int = 1):
    with httpx.Client(trust_env=False, timeout=5) as client:
        conn = Connection(
            base_url=server.url, api_key="sk-cap-1", client=client, max_image_bytes=IMAGE
        )
        return ADAPTERS["aioagi"].submit(conn, request(n))


def images_reply(count: int, size: int) -> bytes:
    png = base64.b64encode(b"\x89PNG" + b"\0" * (size - 4)).decode()
    return json.dumps({"created": 1, "data": [{"b64_json": png}] * count}).encode()


def test_the_cap_follows_n_and_the_image_limit() -> None:
    assert image_reply_bytes(1, IMAGE) == 3_333_337
    assert image_reply_bytes(4, 40 * MB) == 215_333_348


def test_an_image_reply_past_its_cap_fails_the_submit_as_may_have_charged() -> None:
    reply = Scripted(200, image_json(20 * MB), {"Content-Type": "application/json"})
    with Loopback(reply) as server:
        result = submit(server)

    assert isinstance(result, Failed)
    assert result.error.code == ErrorCode.UNEXPECTED_RESPONSE and result.error.may_have_charged
    assert result.error.message.startswith("AIOAGI sent a reply larger than 3 MB")
    assert result.raw == {"http_status": 200, "text": "(over 3333337 bytes)"}
    assert reply.sent < 10 * MB  # the studio stopped reading, it did not drain the rest


def test_n_images_may_take_n_times_the_room() -> None:
    # 2.9 MB of base64, 3.9 MB with padding: over the n=1 cap (3.3 MB), under n=2's (4.7 MB).
    body = images_reply(2, 1_100_000) + b" " * MB
    single = Scripted(200, fixed(body), {"Content-Type": "application/json"})
    double = Scripted(200, fixed(body), {"Content-Type": "application/json"})
    with Loopback(single, double) as server:
        assert isinstance(submit(server, n=1), Failed)
        result = submit(server, n=2)

    assert isinstance(result, Finished)
    assert [len(i.data) for i in result.images] == [1_100_000, 1_100_000]
    assert result.raw["data"][0]["b64_json"].startswith("<base64 ")


def test_a_declared_length_past_the_cap_is_refused_before_reading() -> None:
    def endless():
        yield b'{"data": ['
        time.sleep(5)  # never arrives: the studio must not wait for it

    headers = {"Content-Type": "application/json", "Content-Length": str(500 * MB)}
    with Loopback(Scripted(200, endless, headers)) as server:
        started = time.monotonic()
        result = submit(server)

    assert time.monotonic() - started < 2
    assert isinstance(result, Failed) and "larger than 3 MB" in result.error.message


def test_an_error_reply_gets_the_small_cap_whatever_n() -> None:
    reply = Scripted(502, text(20 * MB), {"Content-Type": "text/html"})
    with Loopback(reply) as server:
        result = submit(server, n=4)

    assert isinstance(result, Failed) and result.error.may_have_charged
    assert "larger than 2 MB" in result.error.message
    assert reply.sent < 10 * MB


def test_a_poll_past_its_cap_ends_the_job_with_a_clear_sentence() -> None:
    # lemondata makes up to 4 images a request: a poll may carry that many inline.
    reply = Scripted(200, image_json(30 * MB), {"Content-Type": "application/json"})
    with Loopback(reply) as server, httpx.Client(trust_env=False, timeout=5) as client:
        conn = Connection(
            base_url=server.url, api_key="sk-cap-1", client=client, max_image_bytes=IMAGE
        )
        result = ADAPTERS["lemondata"].poll(conn, "task-1", None)

    assert isinstance(result, Failed)
    assert not result.error.retryable  # the same oversized reply would come back each time
    assert result.error.message == (
        "LemonData sent a reply larger than 7 MB, more than the studio reads, so it stopped "
        "asking about this job."
    )


def test_a_compressed_reply_is_counted_as_it_inflates() -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with Loopback(Scripted(200, gzip_bomb(50 * MB), headers)) as server:
        with httpx.Client(trust_env=False, timeout=5) as client:
            conn = Connection(base_url=server.url, api_key="sk-cap-1", client=client)
            result = ADAPTERS["aioagi"].verify(conn)
        accept = server.requests[0][1]["accept-encoding"]

    assert accept == "identity"  # the studio asks for bytes as they are
    assert result.status == "unknown" and "larger than 2 MB" in result.message


def test_a_compressed_reply_under_the_cap_still_reads() -> None:
    body = json.dumps({"hard_limit_usd": 12, "total_usage": 200}).encode()
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with (
        Loopback(
            Scripted(200, fixed(gzip.compress(body)), headers),
            Scripted(200, fixed(gzip.compress(body)), headers),
        ) as server,
        httpx.Client(trust_env=False, timeout=5) as client,
    ):
        conn = Connection(base_url=server.url, api_key="sk-cap-1", client=client)
        result = ADAPTERS["aioagi"].verify(conn)

    assert result.status == "valid" and result.balance == 10


def test_a_reply_from_httpx_mock_transport_is_capped_too() -> None:
    """MockTransport hands over a body already in memory: it is measured, not streamed."""
    small, large = images_reply(1, 100_000), images_reply(1, 100_000) + b" " * 4 * MB
    bodies = iter([small, large])
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=next(bodies)))
    with httpx.Client(transport=transport) as client:
        conn = Connection(
            base_url="https://vendor.test", api_key="sk-cap-1", client=client, max_image_bytes=IMAGE
        )
        assert isinstance(ADAPTERS["aioagi"].submit(conn, request()), Finished)
        assert isinstance(ADAPTERS["aioagi"].submit(conn, request()), Failed)


# --- memory -----------------------------------------------------------------------------------

# Runs in a fresh interpreter, so that its peak RSS is the adapter's alone; the server streaming
# the replies runs in this (the test's) process.
CHILD = r"""
import json, resource, sys
import httpx
from studio.vendors import ADAPTERS
from studio.vendors.base import Connection, GenerationRequest

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

# A runaway read must fail here, not take the shared machine's memory.
limit = status("VmSize") + 1_500_000_000
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
adapter = ADAPTERS["aioagi"]
request = GenerationRequest("text-to-image", "gpt-image-2", "a lighthouse", {"n": 1})
report = {}
with httpx.Client(trust_env=False, timeout=30) as client:
    # The default image limit, as in production (40 MB): the reply cap for n=1 is 55 MB.
    conn = Connection(base_url=sys.argv[1], api_key="sk-memory-1", client=client)
    for name in ("warm-up", "image reply", "error reply"):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak, to the current RSS
        before = status("VmRSS")
        result = adapter.submit(conn, request)
        report[name] = {
            "growth": status("VmHWM") - before,
            "result": type(result).__name__,
            "message": getattr(getattr(result, "error", None), "message", ""),
        }
        del result
        report[name]["kept"] = status("VmRSS") - before
print(json.dumps(report))
"""


def test_a_200_mb_reply_grows_the_worker_by_less_than_100_mb() -> None:
    size = 200 * MB
    replies = (
        Scripted(200, fixed(images_reply(1, 100_000)), {"Content-Type": "application/json"}),
        Scripted(200, image_json(size), {"Content-Type": "application/json"}),
        Scripted(500, text(size), {"Content-Type": "text/plain"}),
    )
    with Loopback(*replies) as server:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, server.url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    print(json.dumps(report, indent=1))  # the figures, for `pytest -s`

    assert report["warm-up"]["result"] == "Finished"
    for name in ("image reply", "error reply"):
        assert report[name]["result"] == "Failed"
        assert "larger than" in report[name]["message"]
        assert report[name]["growth"] < 100 * MB, name
    assert report["error reply"]["growth"] < 20 * MB
