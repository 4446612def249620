"""Helpers for the OpenAI-compatible relays (aioagi, lemondata, chatbp): one shape, one place."""

from __future__ import annotations

from typing import Any

from studio.vendors.base import (
    Adapter,
    Call,
    ErrorCode,
    Failed,
    Finished,
    GenerationRequest,
    ImageSource,
    Spend,
    VendorFailure,
    Verification,
    balance_verification,
    decode_b64,
    no_images,
    sniff_content_type,
    to_decimal,
)


def image_api_body(req: GenerationRequest) -> dict[str, Any]:
    return {"model": req.model, "prompt": req.prompt, **req.params}


def openai_images(items: Any, content_type: str | None = None) -> list[ImageSource]:
    """Images from an OpenAI-style `data` list whose items carry `url` or `b64_json`."""
    images = []
    for item in items or []:
        if item.get("b64_json"):
            # pop: each image's base64 text is released as soon as it is decoded.
            data = decode_b64(item.pop("b64_json"))
            images.append(ImageSource(data=data, content_type=sniff_content_type(data)))
        elif item.get("url"):
            images.append(ImageSource(url=item["url"], content_type=content_type))
    return images


def images_result(
    adapter: Adapter, call: Call, reply: dict, remote_id: str | None = None
) -> Finished | Failed:
    """`Finished` from a `{"data": [...], "usage": {...}}` reply, or `Failed(no_images)`."""
    content_type = f"image/{reply['output_format']}" if reply.get("output_format") else None
    images = openai_images(reply.get("data"), content_type)
    if not images:
        return Failed(no_images(adapter.label), None, call.raw)
    usage = reply.get("usage")
    spend = Spend(tokens=usage if isinstance(usage, dict) else None, images=len(images))
    return Finished(images, spend, call.raw, remote_id)


def post_edit(adapter: Adapter, call: Call, req: GenerationRequest) -> Any:
    """`POST /v1/images/edits` as multipart: every reference an `image[]` part, plus a mask."""
    files = [
        ("image[]" if r.role == "image" else "mask", (r.filename, r.data, r.content_type))
        for r in req.references
    ]
    fields = {k: str(v) for k, v in image_api_body(req).items()}
    return call.request(
        "POST",
        "/v1/images/edits",
        data=fields,
        files=files,
        read_timeout=adapter.sync_timeout(call),
    )


def newapi_check_key(adapter: Adapter, call: Call) -> Verification:
    """new-api relays: the balance from the billing endpoints, else a key check on /v1/models.

    Both are reads that never spend credits. Balance = hard_limit_usd − total_usage / 100,
    in whatever unit the relay is set up with.
    """
    try:
        subscription = call.request("GET", "/v1/dashboard/billing/subscription")
    except VendorFailure as failure:
        if failure.error.code != ErrorCode.NOT_FOUND:
            raise
        call.request("GET", "/v1/models")
        return balance_verification(adapter.label, None, None)
    limit = to_decimal(subscription.get("hard_limit_usd"))
    try:
        used = to_decimal(call.request("GET", "/v1/dashboard/billing/usage").get("total_usage"))
    except VendorFailure:
        used = None
    if limit is None or used is None:
        return balance_verification(adapter.label, None, None)
    return balance_verification(adapter.label, limit - used / 100, "USD (as the relay reports)")
