"""One test per row of the cross-vendor summary in VENDORS.md: base URL, submit, sync or
async, poll, terminal states and spend signal, each seen on the wire against the fake."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from studio.vendors import ADAPTERS, base_url_for
from studio.vendors.base import Accepted, Finished, GenerationRequest, join_url
from tests.vendors.conftest import KEY, Env, finish, make_env

# base_url_for must show the documented defaults, whatever the real settings say.
pytestmark = pytest.mark.usefixtures("vendor_settings")


def wire(env: Env) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in env.fake.requests if not r.path.startswith("/files/")]


def failed_status(env: Env) -> str:
    env.fake.next_submit = "content_policy"
    return env.run().raw["status"]


def test_girlgenerator(fakes, client: httpx.Client) -> None:
    env = make_env("girlgenerator", fakes, client)
    assert base_url_for("girlgenerator") == "https://girlgenerator.app"

    submitted = env.submit()
    reply = client.post(
        f"{env.fake.url}/api/v1/generate",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"scene": "text-to-image", "prompt": "x"},
    )
    done = finish(env.adapter, env.conn(), submitted)

    assert reply.status_code == 201
    assert isinstance(submitted, Accepted) and isinstance(done, Finished)
    assert wire(env)[0] == ("POST", "/api/v1/generate")
    assert wire(env)[-1] == ("GET", f"/api/v1/tasks/{submitted.remote_id}")
    assert (done.raw["status"], failed_status(env)) == ("success", "failed")
    assert submitted.spend.credits_used == 1 and submitted.spend.credits_remaining == 9


def test_aioagi(fakes, client: httpx.Client) -> None:
    env = make_env("aioagi", fakes, client)
    documented = "https://api.aiearth.dev/v1"
    assert (
        join_url(base_url_for("aioagi"), "/v1/images/generations")
        == documented + "/images/generations"
    )
    assert join_url(ADAPTERS["aioagi"].mirrors["aiearth.vip"], "/v1/images/edits") == (
        "https://api.aiearth.vip/v1/images/edits"
    )

    done = env.submit()

    assert isinstance(done, Finished)  # synchronous: no poll at all
    assert wire(env) == [("POST", "/v1/images/generations")]
    assert done.spend.tokens["total_tokens"] > 0
    assert ADAPTERS["aioagi"].verify(env.conn()).balance == Decimal("9.96")


def test_lemondata(fakes, client: httpx.Client) -> None:
    env = make_env("lemondata", fakes, client)
    assert base_url_for("lemondata") == "https://api.lemondata.cc"

    sync = env.submit(GenerationRequest("text-to-image", "dall-e-3", "x"))
    submitted = env.submit()
    done = finish(env.adapter, env.conn(), submitted)

    assert isinstance(sync, Finished) and isinstance(submitted, Accepted)
    assert submitted.poll_url == f"/v1/images/generations/{submitted.remote_id}"
    assert wire(env)[-1] == ("GET", submitted.poll_url)
    assert (done.raw["status"], failed_status(env)) == ("completed", "failed")
    assert done.spend.credits_used is None and sync.spend.credits_used is None
    assert ADAPTERS["lemondata"].verify(env.conn(extra_secret=None)).balance is None
    assert ADAPTERS["lemondata"].verify(env.conn()).balance == env.fake.balance(KEY) < 10


def test_chatbp(fakes, client: httpx.Client) -> None:
    env = make_env("chatbp", fakes, client)
    assert base_url_for("chatbp") is None

    submitted = env.submit()
    done = finish(env.adapter, env.conn(), submitted)
    sync = env.submit(options={"async": False})

    assert isinstance(submitted, Accepted) and isinstance(sync, Finished)
    assert wire(env)[0] == ("POST", "/v1/images/generations?async=true")
    assert ("GET", f"/v1/images/tasks/{submitted.remote_id}") in wire(env)
    assert wire(env)[-1] == ("POST", "/v1/images/generations")
    assert (done.raw["status"], failed_status(env)) == ("succeeded", "failed")
    assert done.spend.credits_used is None
    assert ADAPTERS["chatbp"].verify(env.conn()).balance == env.fake.balance(KEY) < 10


def test_chatfire(fakes, client: httpx.Client) -> None:
    env = make_env("chatfire", fakes, client)
    assert base_url_for("chatfire") == "https://api.chatfire.site"

    submitted = env.submit()
    done = finish(env.adapter, env.conn(), submitted)
    env.fake.instant = True
    at_once = env.submit()

    assert isinstance(submitted, Accepted) and isinstance(at_once, Finished)
    assert wire(env)[0] == ("POST", "/v1/images/generations")
    assert ("GET", f"/v1/images/task/{submitted.remote_id}") in wire(env)
    assert wire(env)[-1] == ("POST", "/v1/images/generations")
    assert (done.raw["status"], failed_status(env)) == ("completed", "failed")
    assert done.spend.credits_used is None
    assert ADAPTERS["chatfire"].verify(env.conn()).balance is None
