"""The API's endpoints through Django's test client: listing, jobs, file URLs, targets, CORS,
hostile bodies (the end-to-end flows are in test_openai_client.py)."""

from __future__ import annotations

import json

import pytest
from django.core import signing
from django.test import Client

from accounts.vault import add_credential
from studio.api import services
from tests.api.conftest import bearer, token_for
from tests.web.conftest import make_image

pytestmark = pytest.mark.django_db
SECRET_KEY = "sk-aioagi-0123456789abcdef"


def test_images_are_listed_newest_first_with_keyset_paging_and_filters(
    client, alice, bob, settings
):
    import studio.api.api as api

    older = [make_image(alice, f"cat {i}") for i in range(3)]
    make_image(alice, "a dog")
    make_image(bob, "bob's cat")
    headers = bearer(token_for(alice, "read"))
    api.LIST_SIZE, saved = 2, api.LIST_SIZE
    try:
        first = client.get("/api/v1/images?q=cat", **headers).json()
        assert first["has_more"] and len(first["data"]) == 2
        after = first["next_after"]
        second = client.get("/api/v1/images", {"q": "cat", "after": after}, **headers).json()
    finally:
        api.LIST_SIZE = saved
    ids = [i["id"] for i in first["data"] + second["data"]]
    assert ids == [i.pk for i in reversed(older)] and not second["has_more"]
    assert client.get("/api/v1/images?vendor=aioagi", **headers).json()["data"] == []
    assert len(client.get("/api/v1/images?model=demo", **headers).json()["data"]) == 4


def test_a_job_shows_status_images_and_cost_and_only_to_its_owner(client, alice, bob):
    image = make_image(alice)
    r = client.get(f"/api/v1/jobs/{image.generation_id}", **bearer(token_for(alice, "read")))
    body = r.json()
    assert body["status"] == "succeeded" and [i["id"] for i in body["images"]] == [image.pk]
    assert body["studio"]["cost"] == []
    r = client.get(f"/api/v1/jobs/{image.generation_id}", **bearer(token_for(bob)))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/jobs/99999999999999999999", **bearer(token_for(bob))).status_code
    assert client.get("/api/v1/jobs/-1", **bearer(token_for(bob))).status_code == 404


def test_file_urls_expire_and_stop_with_the_image(client, alice, settings):
    image = make_image(alice)
    token = signing.dumps(image.pk, salt=services.FILE_SALT)
    r = client.get(f"/api/v1/files/{token}/")
    assert r.status_code == 200 and r["Referrer-Policy"] == "no-referrer"
    settings.STUDIO_API_URL_SECONDS = -1
    assert client.get(f"/api/v1/files/{token}/").status_code == 404
    settings.STUDIO_API_URL_SECONDS = 3600
    assert client.get(f"/api/v1/files/{signing.dumps(image.pk, salt='other')}/").status_code == 404
    image.generation.images.update(deleted_at="2026-01-01T00:00Z")
    assert client.get(f"/api/v1/files/{token}/").status_code == 404


def test_targets_by_vendor_default_or_key_label(alice, bob):
    relay = add_credential(alice, "aioagi", "team/relay", SECRET_KEY)
    other = add_credential(alice, "aioagi", "spare", SECRET_KEY)
    add_credential(bob, "aioagi", "bob", SECRET_KEY)
    assert services.resolve_target(alice, "aioagi/gpt-image-2").credential == relay
    target = services.resolve_target(alice, "team/relay/gpt-image-2")
    assert (target.credential, target.model) == (relay, "gpt-image-2")
    assert services.resolve_target(alice, "spare/gpt-image-2").credential == other
    assert services.resolve_target(alice, "bob/gpt-image-2") is None
    assert services.resolve_target(alice, "demo/demo").vendor == "demo"
    assert services.resolve_target(alice, "nothing") is None
    assert services.resolve_target(bob, "team/relay/gpt-image-2") is None


def test_no_secret_in_any_reply(client, alice):
    add_credential(alice, "aioagi", "relay", SECRET_KEY)
    headers = bearer(token_for(alice))
    replies = [
        client.get("/v1/models", **headers),
        client.post(
            "/v1/images/generations",
            {"model": "relay/gpt-image-2", "prompt": "x", "size": "7x7"},
            "application/json",
            **headers,
        ),
        client.get("/api/openapi.json"),
    ]
    for r in replies:
        assert SECRET_KEY not in r.content.decode() and SECRET_KEY[-12:] not in r.content.decode()
    assert replies[1].status_code == 400 and replies[1].json()["error"]["param"] == "size"


def test_cors_is_off_unless_the_operator_allows_origins(client, alice, settings):
    headers = {"HTTP_ORIGIN": "https://chat.example.com", **bearer(token_for(alice))}
    assert "access-control-allow-origin" not in client.get("/v1/models", **headers)
    settings.CORS_ALLOWED_ORIGINS = ["https://chat.example.com"]
    r = client.get("/v1/models", **headers)
    assert r["Access-Control-Allow-Origin"] == "https://chat.example.com"
    assert "access-control-allow-origin" not in client.get("/gallery/", **headers)


# null for an optional parameter, JSON's true as n=1 (pydantic's lax ints), a prompt in any script.
ACCEPTED = {(f, None) for f in ("n", "size", "quality", "response_format")} | {
    ("n", True),
    ("prompt", "ℌ𝔢𝔩𝔩𝔬 漢字"),
}
HOSTILE_VALUES = [None, -1, 0, 2**63, "9" * 10_000, "\x00", ["x"], {"a": 1}, True, "ℌ𝔢𝔩𝔩𝔬 漢字"]


@pytest.mark.parametrize("field", ["model", "prompt", "n", "size", "quality", "response_format"])
def test_hostile_bodies_are_a_400_naming_the_parameter(client, alice, field, settings):
    settings.STUDIO_API_WAIT_SECONDS = 0  # a value the demo accepts is queued, not awaited
    headers = bearer(token_for(alice))
    for value in HOSTILE_VALUES:
        body = {"model": "demo/demo", "prompt": "a cat", field: value}
        r = client.post("/v1/images/generations", json.dumps(body), "application/json", **headers)
        if r.status_code == 202:  # a value the demo accepts: the job was queued
            assert (field, value) in ACCEPTED, (field, value)
            continue
        assert r.status_code == 400, (field, value, r.status_code)
        assert r.json()["error"]["param"] in (field, None), (field, value, r.json())
    not_json = Client().post("/v1/images/generations", "{not json", "application/json", **headers)
    assert not_json.status_code == 400


def test_edits_refuse_a_missing_or_bad_image_and_a_mask(client, alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.web.conftest import png

    headers = bearer(token_for(alice))
    form = {"model": "demo/demo", "prompt": "night"}

    def edit(**files):
        return client.post("/v1/images/edits", {**form, **files}, **headers)

    r = edit()
    assert (r.status_code, r.json()["error"]["param"]) == (400, "image")
    r = edit(image=SimpleUploadedFile("x.png", b"not a picture", "image/png"))
    assert (r.status_code, r.json()["error"]["param"]) == (400, "image")
    picture = SimpleUploadedFile("x.png", png(), "image/png")
    r = edit(image=picture, mask=SimpleUploadedFile("m.png", png(), "image/png"))
    assert (r.status_code, r.json()["error"]["param"]) == (400, "mask")
    # The demo makes no edits: the engine's refusal names the model.
    r = edit(**{"image[]": SimpleUploadedFile("x.png", png(), "image/png")})
    assert (r.status_code, r.json()["error"]["param"]) == (400, "model")
    read_only = bearer(token_for(alice, "read"))
    r = client.post("/v1/images/edits", form, **read_only)
    assert r.status_code == 403


def test_a_mask_of_the_wrong_size_or_type_or_for_a_maskless_target_is_a_400_naming_mask(
    client, alice
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from studio.models import Generation
    from tests.web.conftest import png, webp

    add_credential(alice, "aioagi", "relay", SECRET_KEY)
    add_credential(alice, "chatbp", "bp", SECRET_KEY)
    headers = bearer(token_for(alice))

    def edit(model: str, mask: bytes, name: str = "m.png"):
        files = {
            "image": SimpleUploadedFile("in.png", png(64, 48), "image/png"),
            "mask": SimpleUploadedFile(name, mask, "image/png"),
        }
        r = client.post("/v1/images/edits", {"model": model, "prompt": "night", **files}, **headers)
        return r.status_code, r.json()["error"]

    status, error = edit("aioagi/gpt-image-2", png(32, 32))
    assert (status, error["param"]) == (400, "mask")
    assert "32×32" in error["message"] and "64×48" in error["message"]
    status, error = edit("aioagi/gpt-image-2", webp(64, 48), "m.webp")
    assert (status, error["param"], error["message"]) == (
        400,
        "mask",
        "The mask must be a PNG image.",
    )
    status, error = edit("aioagi/gpt-image-2", b"not a picture")
    assert (status, error["param"]) == (400, "mask")
    # Chat Bp's edits take no documented mask: refused, not silently dropped.
    status, error = edit("chatbp/gpt-image-1", png(64, 48))
    assert (status, error["param"]) == (400, "mask")
    assert "takes no mask" in error["message"]
    assert not Generation.objects.exists()


def test_a_real_budget_refuses_an_api_job_with_402_and_nothing_is_queued(client, alice):
    from decimal import Decimal

    from studio.engine.services import create_generation
    from studio.models import Generation
    from studio.money import services as money
    from studio.money.models import Budget

    key = add_credential(alice, "girlgenerator", "studio key", "sk-girl-0123456789abcdef")
    money.set_budget(Budget(scope="own", measure="images", limit=Decimal(1)), alice)
    create_generation(
        alice, vendor="girlgenerator", credential=key, model="default", prompt="the first"
    )
    r = client.post(
        "/v1/images/generations",
        json.dumps({"model": "girlgenerator/default", "prompt": "one too many"}),
        content_type="application/json",
        **bearer(token_for(alice)),
    )
    assert r.status_code == 402, r.content
    error = r.json()["error"]
    assert error["code"] == "budget" and "0 images left" in error["message"]
    assert Generation.objects.count() == 1  # refused before anything was stored or sent


def test_a_jobs_cost_carries_its_money_value_when_priced(client, alice):
    from decimal import Decimal

    from studio.models import CreditEntry

    image = make_image(alice)
    CreditEntry.objects.create(
        owner=alice,
        generation_id=image.generation_id,
        vendor="aioagi",
        kind="images",
        amount=Decimal(2),
        unit="images",
        money=Decimal("0.420000"),
        currency="CNY",
    )
    r = client.get(f"/api/v1/jobs/{image.generation_id}", **bearer(token_for(alice, "read")))
    assert r.json()["studio"]["cost"] == [
        {"kind": "images", "amount": "2", "unit": "images", "money": "0.42", "currency": "CNY"}
    ]
