"""The model catalogue: size rules, the refreshed built-in models, operator models, and the
models a key's relay lists (against the fakes, over loopback HTTP)."""

from __future__ import annotations

import httpx
import pytest

from studio.vendors import ADAPTERS, get_adapter
from studio.vendors.base import (
    GPT_IMAGE_2_SIZES,
    Accepted,
    Finished,
    GenerationRequest,
    ModelSpec,
    SizeRule,
    parse_size,
)
from studio.vendors.catalogue import (
    discovered_spec,
    is_image_model,
    listed_image_models,
    with_discovered,
)
from tests.vendors.conftest import KEY, Env, finish, image_bytes, make_env, open_png


def req(model: str, size: str | None = None, **params) -> GenerationRequest:
    if size is not None:
        params["size"] = size
    return GenerationRequest("text-to-image", model, "a lighthouse", params)


# --- SizeRule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "broken"),
    [
        ("1024x1024", None),
        ("2048x1152", None),
        ("3840x2160", None),  # exactly the most pixels allowed
        ("1024x640", None),  # exactly the fewest pixels allowed
        ("2880x960", None),  # exactly 3:1
        ("2000x1000", "multiple_of"),
        ("1024x1000", "multiple_of"),
        ("4096x1024", "max_edge"),
        ("3856x1024", "max_edge"),
        ("1024x624", "min_pixels"),
        ("512x512", "min_pixels"),
        ("3840x2176", "max_pixels"),
        ("3072x1008", "max_aspect"),
        ("1008x3072", "max_aspect"),
    ],
)
def test_the_gpt_image_2_rule(size: str, broken: str | None) -> None:
    assert GPT_IMAGE_2_SIZES.broken(*parse_size(size)) == broken


def test_each_message_names_the_broken_rule() -> None:
    rule = GPT_IMAGE_2_SIZES
    assert rule.message("multiple_of") == "Width and height must be multiples of 16."
    assert rule.message("max_edge") == "The longest side can be at most 3,840 pixels."
    assert rule.message("min_pixels") == (
        "The image needs at least 655,360 pixels (width × height)."
    )
    assert rule.message("max_pixels") == (
        "The image can have at most 8,294,400 pixels (width × height)."
    )
    assert rule.message("max_aspect") == (
        "The long side can be at most 3 times the short side (3:1)."
    )


def test_an_empty_rule_allows_any_size() -> None:
    assert SizeRule().broken(1, 99_999) is None


@pytest.mark.parametrize("text", ["1024x", "x1024", "1024*1024", "0x1024", "-16x16", " 16x16", 16])
def test_only_width_x_height_is_a_size(text) -> None:
    assert parse_size(text) is None


def test_operators_write_rules_as_dicts() -> None:
    rule = SizeRule.from_dict({"multiple_of": 64, "max_edge": 2048, "max_aspect": 2.5})

    assert rule == SizeRule(multiple_of=64, max_edge=2048, max_aspect=2.5)
    assert rule.message("max_aspect") == (
        "The long side can be at most 2.5 times the short side (2.5:1)."
    )
    for bad in ({"multiple": 16}, {"multiple_of": 0}, {"max_edge": "4k"}, {"max_aspect": 0.5}, []):
        with pytest.raises(ValueError, match="size rule"):
            SizeRule.from_dict(bad)


def test_a_model_entry_takes_a_size_rule() -> None:
    spec = ModelSpec.from_dict(
        {"name": "flux-2", "sizes": ["1024x1024"], "size_rule": {"multiple_of": 32}}
    )

    assert spec.size_rule == SizeRule(multiple_of=32)
    assert spec.size_error("1024x1024") is None  # a preset
    assert spec.size_error("1056x800") is None  # the rule
    assert spec.size_error("1000x800") == "Width and height must be multiples of 32."
    assert spec.size_error("big") == (
        "Choose one of: 1024x1024, or write the size as WIDTHxHEIGHT, e.g. 2048x1152."
    )
    with pytest.raises(ValueError, match="size_param"):
        ModelSpec.from_dict({"name": "x", "size_param": "aspect_ratio", "size_rule": {}})


def test_without_a_rule_only_presets_pass() -> None:
    spec = ADAPTERS["chatfire"].capabilities.model("seedream-3.0")

    assert spec.size_rule is None
    assert spec.size_error("2048x1152") == (
        "Choose one of: 1024x1024, 1024x1792, 1792x1024, 1328x1328."
    )


# --- validate() ------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", ["aioagi", "lemondata", "chatfire"])
def test_gpt_image_2_takes_presets_and_free_sizes_on_every_relay(vendor: str) -> None:
    adapter = ADAPTERS[vendor]

    assert adapter.validate(req("gpt-image-2", "1024x1024")) == {}
    assert adapter.validate(req("gpt-image-2", "2048x1152")) == {}
    assert adapter.validate(req("gpt-image-2", "2000x1000")) == {
        "size": "Width and height must be multiples of 16."
    }
    assert adapter.validate(req("gpt-image-2", "4000x2000")) == {
        "size": "The longest side can be at most 3,840 pixels."
    }


def test_the_refreshed_built_in_lists() -> None:
    names = {vendor: [m.name for m in ADAPTERS[vendor].capabilities.models] for vendor in ADAPTERS}

    assert names["chatfire"] == [
        "seedream-3.0",
        "jimeng",
        "keling",
        "dall-e-3",
        "nano-banana-pro",
        "banana-2",
        "doubao-seedream-4-5-251128",
        "gpt-image-2",
    ]
    assert names["aioagi"] == ["gpt-image-2", "gpt-image-2-4k"]
    assert names["lemondata"][-1] == "gpt-image-2"
    assert ADAPTERS["lemondata"].capabilities.model("gpt-image-2").sync is False
    assert "2048x2048" in ADAPTERS["chatfire"].capabilities.model("banana-2").sizes


def test_the_operator_overrides_a_models_rule(vendor_settings) -> None:
    vendor_settings.STUDIO_VENDOR_MODELS = {
        "aioagi": [
            {
                "name": "gpt-image-2",
                "sizes": ["1024x1024"],
                "size_rule": {"multiple_of": 64, "max_edge": 2048},
            },
            {"name": "flux-2-pro", "sizes": [], "size_rule": {"multiple_of": 32}},
        ]
    }
    adapter = get_adapter("aioagi")

    assert adapter.validate(req("gpt-image-2", "2048x1152")) == {}
    assert adapter.validate(req("gpt-image-2", "1024x640")) == {}  # below the built-in minimum
    assert adapter.validate(req("gpt-image-2", "2112x1024")) == {
        "size": "The longest side can be at most 2,048 pixels."
    }
    assert adapter.validate(req("flux-2-pro", "1056x800")) == {}
    assert adapter.validate(req("flux-2-pro", "wide")) == {
        "size": "Write the size as WIDTHxHEIGHT, e.g. 2048x1152."
    }
    assert ADAPTERS["aioagi"].validate(req("gpt-image-2", "1024x640")) == {}  # untouched


# --- the fakes take what the adapters let through ----------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "request_"),
    [
        ("aioagi", req("gpt-image-2", "2048x1152")),
        ("aioagi", req("gpt-image-2-4k", "1152x2048")),
        ("lemondata", req("gpt-image-2", "1536x1024", quality="high")),
        ("lemondata", req("gpt-image-2", "1024x1536", output_format="webp")),
        ("chatfire", req("gpt-image-2", "1280x720")),
        ("chatfire", req("doubao-seedream-4-5-251128", "2048x2048")),
        ("chatfire", req("nano-banana-pro", "1024x1024")),
        ("chatfire", req("banana-2", "2048x2048")),
    ],
)
def test_new_models_and_free_sizes_generate_against_the_fakes(
    vendor: str, request_: GenerationRequest, fakes, client: httpx.Client
) -> None:
    env = make_env(vendor, fakes, client)
    assert env.adapter.validate(request_) == {}

    result = finish(env.adapter, env.conn(), env.submit(request_))

    assert isinstance(result, Finished), result
    (data,) = image_bytes(client, result)
    assert open_png(data).size == parse_size(request_.params["size"])


def test_lemondata_gpt_image_2_may_answer_with_a_task(fakes, client: httpx.Client) -> None:
    env = make_env("lemondata", fakes, client)
    # What the vendor does when asked with `async`: the adapter follows the task it gets.
    lax = type(env.adapter)()
    lax.validate = lambda request: {}  # type: ignore[method-assign]
    submitted = lax.submit(env.conn(), req("gpt-image-2", "1024x1024", **{"async": True}))

    assert isinstance(submitted, Accepted), submitted
    assert isinstance(finish(lax, env.conn(), submitted), Finished)


def test_the_fakes_refuse_free_sizes_the_rule_refuses(fakes, client: httpx.Client) -> None:
    env = make_env("aioagi", fakes, client)
    lax = type(env.adapter)()
    lax.validate = lambda request: {}  # type: ignore[method-assign]

    result = lax.submit(env.conn(), req("gpt-image-2", "2000x1000"))

    assert result.error.code == "invalid_params" and result.error.field == "size"


# --- models a key's relay lists --------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "image"),
    [
        ({"id": "gpt-image-2-4k", "supported_endpoint_types": ["openai"]}, True),
        ({"id": "qwen-image-3.0", "supported_endpoint_types": ["image-generation"]}, True),
        ({"id": "my-painter", "supported_endpoint_types": ["image-generation", "openai"]}, True),
        ({"id": "nano-banana-pro"}, True),
        ({"id": "doubao-seedream-4-5-251128"}, True),
        ({"id": "gemini-2.5-flash-image-preview", "supported_endpoint_types": ["gemini"]}, True),
        ({"id": "gpt-4o-mini", "supported_endpoint_types": ["openai"]}, False),
        ({"id": "deepseek-chat"}, False),
        ({"id": "qwen-image-edit", "supported_endpoint_types": ["image-generation"]}, False),
        ({"id": "doubao-seedance-2-0-260128"}, False),
        ({"id": 42}, False),
        ("gpt-image-2", False),
    ],
)
def test_what_counts_as_an_image_model(item, image: bool) -> None:
    assert is_image_model(item) is image


def test_listed_models_get_permissive_defaults() -> None:
    aioagi, chatbp = ADAPTERS["aioagi"], ADAPTERS["chatbp"]
    flux = discovered_spec(chatbp, "flux-2-pro")

    assert flux.scenes == ("text-to-image",) and flux.n_max == 1 and flux.choices == {}
    assert flux.sizes == ("1024x1024", "1792x1024", "1024x1792")  # chatbp's default model's
    assert flux.size_rule is None
    assert discovered_spec(aioagi, "gpt-image-2-4k-auto").size_rule == GPT_IMAGE_2_SIZES
    caps = with_discovered(aioagi, ["gpt-image-2", "flux-2-pro", "flux-2-pro"])
    # A built-in model keeps its own spec; a new one is added once.
    assert caps.model("gpt-image-2") is aioagi.capabilities.model("gpt-image-2")
    assert [m.name for m in caps.models] == ["gpt-image-2", "gpt-image-2-4k", "flux-2-pro"]


@pytest.mark.parametrize("vendor", ["aioagi", "chatbp", "chatfire"])
def test_the_relays_list_their_image_models(vendor: str, fakes, client: httpx.Client) -> None:
    env: Env = make_env(vendor, fakes, client)
    env.fake.extra_models = ["flux-2-pro"]

    listed = listed_image_models(env.adapter, env.conn())

    assert listed == [*env.fake.models, "flux-2-pro"]  # no chat models
    assert [(r.method, r.path, r.key) for r in env.fake.requests] == [("GET", "/v1/models", KEY)]


def test_vendors_without_a_list_and_failed_lists_give_none(fakes, client: httpx.Client) -> None:
    lemon = make_env("lemondata", fakes, client)
    assert listed_image_models(lemon.adapter, lemon.conn()) is None
    assert lemon.fake.requests == []
    aioagi = make_env("aioagi", fakes, client)
    assert listed_image_models(aioagi.adapter, aioagi.conn(key="sk-unknown-000000")) is None


def test_a_listed_model_generates_with_that_key(vendor_settings, fakes, client) -> None:
    class Key:
        discovered_models = ["flux-2-pro"]

    env = make_env("chatbp", fakes, client)
    env.fake.extra_models = ["flux-2-pro"]
    vendor_settings.STUDIO_DISCOVER_MODELS = False
    assert get_adapter("chatbp", Key()).capabilities.model("flux-2-pro") is None

    vendor_settings.STUDIO_DISCOVER_MODELS = True
    adapter = get_adapter("chatbp", Key())
    request_ = req("flux-2-pro", "1792x1024")
    assert adapter.validate(request_) == {}
    result = finish(adapter, env.conn(), adapter.submit(env.conn(), request_))

    assert isinstance(result, Finished), result
    assert ADAPTERS["chatbp"].capabilities.model("flux-2-pro") is None  # per key only
