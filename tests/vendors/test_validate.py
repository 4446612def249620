"""validate() checks every documented constraint before a request can cost money."""

from __future__ import annotations

import pytest

from studio.vendors import ADAPTERS
from studio.vendors.base import GenerationRequest, Reference

URL_REF = Reference(url="https://studio.example/r/abc.png")
FILE_REF = Reference(data=b"png bytes", filename="a.png")
MASK = Reference(data=b"png bytes", filename="mask.png", role="mask")
JPEG_MASK = Reference(data=b"jpeg", filename="m.jpg", content_type="image/jpeg", role="mask")


def req(scene="text-to-image", model="", prompt="a cat", refs=(), **params) -> GenerationRequest:
    return GenerationRequest(scene, model, prompt, params, list(refs))


REJECTED = [
    # girlgenerator
    ("girlgenerator", req(model="default", prompt="x" * 2001), "prompt"),
    ("girlgenerator", req(model="default", prompt="   "), "prompt"),
    ("girlgenerator", req(model="default", aspect_ratio="21:9"), "aspect_ratio"),
    ("girlgenerator", req(model="default", size="1024x1024"), "size"),
    ("girlgenerator", req(model="default", n=2), "n"),
    ("girlgenerator", req("image-to-image", "default"), "references"),
    ("girlgenerator", req("image-to-image", "default", refs=[FILE_REF]), "references"),
    ("girlgenerator", req("image-to-image", "default", refs=[URL_REF] * 5), "references"),
    ("girlgenerator", req("edit", "default", refs=[URL_REF]), "scene"),
    ("girlgenerator", req(model="default", refs=[URL_REF]), "references"),
    ("girlgenerator", req(model="flux"), "model"),
    # aioagi
    ("aioagi", req(model="gpt-image-2", size="1000x1000"), "size"),  # not multiples of 16
    ("aioagi", req(model="gpt-image-2", size="huge"), "size"),
    ("aioagi", req(model="gpt-image-2-4k", size="4096x2160"), "size"),
    ("aioagi", req(model="gpt-image-2", quality="hd"), "quality"),
    ("aioagi", req(model="gpt-image-2", background="white"), "background"),
    ("aioagi", req(model="gpt-image-2", moderation="off"), "moderation"),
    ("aioagi", req(model="gpt-image-2", output_compression=50), "output_compression"),
    (
        "aioagi",
        req(model="gpt-image-2", output_format="png", output_compression=50),
        "output_compression",
    ),
    (
        "aioagi",
        req(model="gpt-image-2", output_format="jpeg", output_compression=101),
        "output_compression",
    ),
    (
        "aioagi",
        req(model="gpt-image-2", background="transparent", output_format="jpeg"),
        "background",
    ),
    ("aioagi", req(model="gpt-image-2", input_fidelity="high"), "input_fidelity"),
    ("aioagi", req(model="gpt-image-2", style="vivid"), "style"),
    ("aioagi", req(model="gpt-image-2", n=0), "n"),
    ("aioagi", req(model="gpt-image-2", n="2"), "n"),
    ("aioagi", req("edit", "gpt-image-2", refs=[FILE_REF] * 17), "references"),
    ("aioagi", req("edit", "gpt-image-2", refs=[URL_REF]), "references"),
    ("aioagi", req("edit", "gpt-image-2", refs=[FILE_REF, MASK, MASK]), "mask"),
    ("aioagi", req("image-to-image", "gpt-image-2", refs=[FILE_REF, MASK]), "mask"),
    ("aioagi", req("edit", "gpt-image-2", refs=[FILE_REF, JPEG_MASK]), "mask"),
    # Chat Bp's docs do not mention edits, let alone masks: its edits take none.
    ("chatbp", req("edit", "gpt-image-1", refs=[FILE_REF, MASK]), "mask"),
    # lemondata
    ("lemondata", req(model="dall-e-3", n=2), "n"),
    ("lemondata", req(model="dall-e-3", size="512x512"), "size"),
    ("lemondata", req(model="dall-e-2", size="1792x1024"), "size"),
    ("lemondata", req(model="dall-e-2", quality="hd"), "quality"),
    ("lemondata", req(model="flux-pro", style="vivid"), "style"),
    ("lemondata", req(model="flux-pro", n=5), "n"),
    ("lemondata", req(model="dall-e-3", response_format="png"), "response_format"),
    ("lemondata", req("image-to-image", "flux-pro", refs=[URL_REF]), "scene"),
    # chatbp
    ("chatbp", req(model="dall-e-3", n=2), "n"),
    ("chatbp", req(model="dall-e-3", size="1536x1024"), "size"),
    ("chatbp", req("edit", "dall-e-3", refs=[FILE_REF]), "scene"),
    ("chatbp", req("edit", "gpt-image-1", refs=[URL_REF]), "references"),
    # chatfire
    ("chatfire", req(model="seedream-3.0", n=5), "n"),
    ("chatfire", req(model="seedream-3.0", size="512x512"), "size"),
    ("chatfire", req(model="seedream-3.0", size="2048x2048"), "size"),
    ("chatfire", req(model="banana-2", size="2048x1152"), "size"),  # presets only
    ("chatfire", req(model="gpt-image-2", size="4000x1000"), "size"),
    ("lemondata", req(model="gpt-image-2", size="512x512"), "size"),
    ("lemondata", req(model="gpt-image-2", quality="hd"), "quality"),
    ("chatfire", req(model="seedream-3.0", response_format="b64_json"), "response_format"),
    ("chatfire", req(model="midjourney"), "model"),
    ("chatfire", req("image-to-image", "jimeng", refs=[URL_REF, URL_REF]), "references"),
    ("chatfire", req("image-to-image", "jimeng", refs=[FILE_REF]), "references"),
    # demo
    ("demo", req(model="demo", size="1024x1024"), "size"),
    ("demo", req(model="demo", n=5), "n"),
]

ACCEPTED = [
    ("girlgenerator", req(model="default", prompt="x" * 2000, aspect_ratio="9:16")),
    ("girlgenerator", req("image-to-image", "default", refs=[URL_REF] * 4)),
    (
        "aioagi",
        req(
            model="gpt-image-2",
            size="auto",
            quality="low",
            background="transparent",
            output_format="webp",
            output_compression=0,
            moderation="low",
            n=4,
        ),
    ),
    ("aioagi", req("edit", "gpt-image-2", refs=[FILE_REF] * 16 + [MASK], input_fidelity="low")),
    ("lemondata", req(model="dall-e-3", size="1024x1792", quality="hd", style="vivid", n=1)),
    ("lemondata", req(model="stable-diffusion-3", size="512x512", n=4, response_format="b64_json")),
    ("chatbp", req(model="gpt-image-1", size="1536x1024", n=4)),
    ("chatbp", req("image-to-image", "gpt-image-1", refs=[FILE_REF] * 2)),
    ("chatfire", req("image-to-image", "keling", refs=[URL_REF], size="1328x1328", n=4)),
    ("aioagi", req(model="gpt-image-2", size="1792x1024")),  # any size the rule allows
    ("aioagi", req("edit", "gpt-image-2-4k", refs=[FILE_REF], size="2048x1152", quality="high")),
    ("chatfire", req(model="doubao-seedream-4-5-251128", size="2048x2048", n=2)),
    ("chatfire", req(model="nano-banana-pro", size="2048x2048")),
    ("chatfire", req(model="gpt-image-2", size="2048x1152")),
    (
        "lemondata",
        req(model="gpt-image-2", size="3840x2160", quality="high", output_format="webp"),
    ),
    ("demo", req(model="demo", size="768x512", n=4)),
]


@pytest.mark.parametrize(("vendor", "request_", "field"), REJECTED)
def test_it_rejects(vendor: str, request_: GenerationRequest, field: str) -> None:
    errors = ADAPTERS[vendor].validate(request_)

    assert field in errors, errors
    assert errors[field].endswith(".")


@pytest.mark.parametrize(("vendor", "request_"), ACCEPTED)
def test_it_accepts(vendor: str, request_: GenerationRequest) -> None:
    assert ADAPTERS[vendor].validate(request_) == {}


def test_submit_reports_every_problem_and_names_the_first_field() -> None:
    result = ADAPTERS["aioagi"].submit(None, req(model="gpt-image-2", prompt="", size="1x1"))

    assert result.error.field == "prompt"
    assert "Write a prompt." in result.error.message
    assert "Width and height must be multiples of 16." in result.error.message
