from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from studio.vendors import base_url_for
from studio.vendors.base import ErrorCode, Failed, Finished, GenerationRequest, Reference
from tests.vendors.conftest import KEY, Env, make_env, open_png, png_bytes


@pytest.fixture
def aioagi(fakes, client: httpx.Client) -> Env:
    return make_env("aioagi", fakes, client)


def edit_request(images: int = 3, **params) -> GenerationRequest:
    refs = [
        Reference(data=png_bytes(color=c), filename=f"item-{i}.png")
        for i, c in enumerate(["red", "green", "blue", "white"][:images])
    ]
    refs.append(Reference(data=png_bytes(color="black"), filename="mask.png", role="mask"))
    params = {"size": "1024x1024", "input_fidelity": "high", "quality": "high", **params}
    return GenerationRequest("edit", "gpt-image-2", "a gift basket", params, refs)


def test_edits_go_as_multipart_with_several_image_parts(aioagi: Env) -> None:
    result = aioagi.submit(edit_request(images=3))

    assert isinstance(result, Finished), result
    path, body = aioagi.fake.bodies[-1]
    assert path == "/v1/images/edits"
    assert [name for name, _ in body["files"]["image[]"]] == [
        "item-0.png",
        "item-1.png",
        "item-2.png",
    ]
    assert [name for name, _ in body["files"]["mask"]] == ["mask.png"]
    assert body["form"] == {
        "model": "gpt-image-2",
        "prompt": "a gift basket",
        "size": "1024x1024",
        "input_fidelity": "high",
        "quality": "high",
    }
    # Edits come back as base64: decoded into bytes, kept out of raw.
    assert open_png(result.images[0].data).size == (1024, 1024)
    assert result.images[0].content_type == "image/png"
    assert "<base64 " in result.raw["data"][0]["b64_json"]
    assert len(json.dumps(result.raw)) < 2000


def test_the_vendor_checks_edit_files_too(aioagi: Env) -> None:
    lax = type(aioagi.adapter)()
    lax.validate = lambda req: {}  # type: ignore[method-assign]
    req = GenerationRequest("edit", "gpt-image-2", "x", {}, [Reference(data=b"not an image")])

    result = lax.submit(aioagi.conn(), req)

    assert result.error.code == ErrorCode.INVALID_PARAMS
    assert result.error.field == "image"


def test_base64_generations_and_token_usage(aioagi: Env) -> None:
    aioagi.fake.next_submit = "b64"

    result = aioagi.submit()

    assert result.images[0].url is None
    assert open_png(result.images[0].data).size == (1536, 1024)
    assert result.spend.tokens["total_tokens"] == result.spend.tokens["input_tokens"] + 1056


def test_a_generation_gets_a_long_read_timeout_of_its_own(aioagi: Env) -> None:
    aioagi.fake.sync_s = 0.5
    impatient = httpx.Client(trust_env=False, timeout=0.2)

    slow_but_fine = aioagi.submit(client=impatient)
    cut_short = aioagi.submit(client=impatient, options={"read_timeout": 0.2})

    assert isinstance(slow_but_fine, Finished)
    assert cut_short.error.may_have_charged


def test_a_base_url_ending_in_v1_as_documented_works(aioagi: Env) -> None:
    result = aioagi.submit(base_url=aioagi.fake.url + "/v1/")

    assert isinstance(result, Finished)
    assert aioagi.fake.requests[0].path == "/v1/images/generations"


def test_the_mirror(vendor_settings) -> None:
    assert base_url_for("aioagi") == "https://api.aiearth.dev"
    assert base_url_for("aioagi", "aiearth.vip") == "https://api.aiearth.vip"


def test_verify_without_billing_endpoints_falls_back_to_the_models_list(aioagi: Env) -> None:
    aioagi.fake.billing = False

    result = aioagi.adapter.verify(aioagi.conn())
    bad = aioagi.adapter.verify(aioagi.conn(key="sk-test-unknown-9999"))

    assert (result.status, result.balance) == ("valid", None)
    assert bad.status == "invalid_key"
    assert [r.path for r in aioagi.fake.requests][:2] == [
        "/v1/dashboard/billing/subscription",
        "/v1/models",
    ]


def test_verify_reads_the_balance_after_spending(aioagi: Env) -> None:
    aioagi.submit()

    result = aioagi.adapter.verify(aioagi.conn())

    assert str(result.balance) == "9.96"
    assert aioagi.fake.balance(KEY) == result.balance


def test_there_is_nothing_to_poll(aioagi: Env) -> None:
    result = aioagi.adapter.poll(aioagi.conn(), "anything")

    assert isinstance(result, Failed) and result.error.code == ErrorCode.NOT_FOUND
    assert aioagi.fake.requests == []


def test_an_edit_mask_goes_as_the_mask_part_with_its_bytes(aioagi: Env) -> None:
    req = edit_request(images=1)
    result = aioagi.submit(req)

    assert isinstance(result, Finished), result
    assert aioagi.fake.masks == [req.references[-1].data]
    # A model the operator adds without `masks` takes none: refused before anything is sent.
    plain = replace(req, model="gpt-image-1")
    lax = type(aioagi.adapter)()
    lax.capabilities = lax.capabilities.with_models(
        [{"name": "gpt-image-1", "scenes": ["edit"], "max_references": 4}]
    )
    assert "mask" in lax.validate(plain)
    assert "mask" not in lax.validate(replace(plain, references=req.references[:1]))


def test_the_fake_refuses_a_mask_of_another_size_as_openai_does(aioagi: Env) -> None:
    lax = type(aioagi.adapter)()
    lax.validate = lambda req: {}  # type: ignore[method-assign]
    image = Reference(data=png_bytes(), filename="in.png")
    small = Reference(data=png_bytes(32, 32), filename="m.png", role="mask")
    req = GenerationRequest("edit", "gpt-image-2", "x", {}, [image, small])

    result = lax.submit(aioagi.conn(), req)

    assert isinstance(result, Failed) and result.error.code == ErrorCode.INVALID_PARAMS
    assert aioagi.fake.masks == []
