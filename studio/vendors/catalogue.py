"""Models beyond the built-in lists: the image models a key's relay says it may use.

When the operator sets STUDIO_DISCOVER_MODELS, verifying a key also asks the vendor's models
list (`Adapter.models_path`: GET /v1/models on the new-api relays). The image models in it are
stored on the credential and offered, for that key only, with permissive defaults
(`discovered_spec`). Built-in and operator models (STUDIO_VENDOR_MODELS) keep their own, more
precise specs: a listed model of the same name changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from studio.vendors.base import (
    GPT_IMAGE_2_SIZES,
    Adapter,
    Call,
    Capabilities,
    Connection,
    ModelSpec,
    VendorFailure,
)

# new-api tags image models with this endpoint type (constant/endpoint_type.go) when it knows
# them; relays often tag them "openai" only (api.aiearth.dev does), so ids count too.
IMAGE_ENDPOINT = "image-generation"
# new-api's own list (common/model.go: dall-e, gpt-image-, imagen-, flux-) plus the families
# our vendors sell; "image" as a word covers gemini-…-image, qwen-image, grok-…-image.
_IMAGE_ID = re.compile(
    r"gpt-image|dall-e|imagen|flux|seedream|jimeng|banana|midjourney|ideogram|stable-diffusion"
    r"|sdxl|kolors|recraft|(?:^|[-_.])image(?:[-_.]|$)",
    re.IGNORECASE,
)
# Listed with an image-looking id but not for /v1/images/generations text to image.
_NOT_TEXT_TO_IMAGE = re.compile(r"edit|video|upscal|vision|embedding", re.IGNORECASE)
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+ -]{0,99}")
# A relay may list hundreds of models; a form with more than this helps nobody.
MAX_MODELS = 40


def is_image_model(item: Any) -> bool:
    """Whether one item of a /v1/models list looks like a text-to-image model."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return False
    model = item["id"]
    if _NOT_TEXT_TO_IMAGE.search(model):
        return False
    types = item.get("supported_endpoint_types")
    tagged = isinstance(types, list) and IMAGE_ENDPOINT in types
    return tagged or bool(_IMAGE_ID.search(model))


def listed_image_models(adapter: Adapter, conn: Connection) -> list[str] | None:
    """The image model ids the vendor lists for this key, in its order; None when the vendor
    has no list or did not give one (then what was found earlier stays)."""
    if not adapter.models_path:
        return None
    call = Call(adapter, conn, "verify")
    try:
        reply = call.request("GET", adapter.models_path)
    except VendorFailure:
        return None
    items = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(items, list):
        return None
    found: list[str] = []
    for item in items:
        if is_image_model(item):
            model = item["id"].strip()
            if _SAFE_ID.fullmatch(model) and model not in found:
                found.append(model)
    return found[:MAX_MODELS]


def discovered_spec(adapter: Adapter, name: str) -> ModelSpec:
    """Permissive defaults for a listed model the studio knows nothing else about: text to
    image, one image per request, the vendor's default (first) model's sizes, and the
    gpt-image-2 free-size rule for that family."""
    first = adapter.capabilities.models[0]
    gpt_image_2 = name.lower().startswith("gpt-image-2") and first.size_param == "size"
    return ModelSpec(
        name,
        name,
        scenes=("text-to-image",),
        size_param=first.size_param,
        sizes=first.sizes,
        default_size=first.default_size,
        sync=first.sync,
        size_rule=GPT_IMAGE_2_SIZES if gpt_image_2 else None,
    )


def with_discovered(adapter: Adapter, names: Iterable[str]) -> Capabilities:
    """The adapter's capabilities plus a spec for every listed model it does not know."""
    caps = adapter.capabilities
    known = {m.name for m in caps.models}
    extra = [discovered_spec(adapter, n) for n in dict.fromkeys(names) if n not in known]
    return caps.with_models(extra) if extra else caps
