"""Helpers for the OpenAI-compatible relays (aioagi, lemondata, chatbp): one shape, one place."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from studio.vendors.base import (
    FAILED,
    STOPPED,
    SUCCEEDED,
    UNLIMITED,
    Accepted,
    Adapter,
    Call,
    ErrorCode,
    Failed,
    Finished,
    GenerationRequest,
    ImageSource,
    ReplyNotUnderstood,
    Running,
    Spend,
    VendorError,
    VendorFailure,
    Verification,
    balance_verification,
    decode_b64,
    error_details,
    generation_failed,
    looks_not_found,
    no_images,
    sniff_content_type,
    task_stopped,
    to_decimal,
    unlimited_verification,
)


def image_api_body(req: GenerationRequest) -> dict[str, Any]:
    return {"model": req.model, "prompt": req.prompt, **req.params}


def _image(item: Any, content_type: str | None = None) -> ImageSource | None:
    """One image from a list item: a URL string, or a dict with a URL (`oss_url` first, the
    copy ChatFire keeps longer) or base64. None for placeholders such as `{"url": ""}`."""
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, dict):
        return None
    expires = item.get("expires_at")
    hints: dict[str, Any] = {
        "expires_at": datetime.fromtimestamp(expires, UTC) if isinstance(expires, int) else None,
        "width": item.get("width") if isinstance(item.get("width"), int) else None,
        "height": item.get("height") if isinstance(item.get("height"), int) else None,
    }
    fmt = item.get("format") or item.get("output_format")
    if isinstance(fmt, str) and fmt:
        content_type = f"image/{fmt.lower()}"
    url = next((u for u in (item.get(k) for k in URL_FIELDS) if isinstance(u, str) and u), None)
    if url and url.startswith("data:"):
        data = decode_b64(url)
        return ImageSource(data=data, content_type=sniff_content_type(data), **hints)
    if url:
        return ImageSource(url=url, content_type=content_type, **hints)
    if isinstance(item.get("b64_json"), str) and item["b64_json"]:
        # pop: each image's base64 text is released as soon as it is decoded.
        data = decode_b64(item.pop("b64_json"))
        return ImageSource(data=data, content_type=sniff_content_type(data), **hints)
    return None


URL_FIELDS = ("oss_url", "url", "image_url")


def openai_images(items: Any, content_type: str | None = None) -> list[ImageSource]:
    """Images from a list whose items are URLs or carry `url`, `oss_url` or `b64_json`."""
    if not isinstance(items, list):
        return []
    found = (_image(item, content_type) for item in items)
    return [image for image in found if image is not None]


def find_images(reply: dict) -> list[ImageSource]:
    """Every image a reply plainly carries, wherever the vendors put them: `data[]`, `images[]`,
    `result.data[]` / `result.images[]`, else a lone `image_url` (sub2api mirrors the first
    `data[].url` there, so it is only a fallback)."""
    content_type = f"image/{reply['output_format']}" if reply.get("output_format") else None
    result = reply.get("result") if isinstance(reply.get("result"), dict) else {}
    for holder in (reply, result):
        for name in ("data", "images"):
            images = openai_images(holder.get(name), content_type)
            if images:
                return images
    for holder in (reply, result):
        lone = holder.get("image_url") or holder.get("image_urls")
        images = openai_images(lone if isinstance(lone, list) else [lone], content_type)
        if images:
            return images
    return []


def unwrap(reply: dict) -> dict:
    """new-api's task routes wrap the task: `{"code": "success", "data": {task}}`."""
    data = reply.get("data")
    if "status" not in reply and isinstance(data, dict) and ("status" in data or "id" in data):
        return data
    return reply


def status_of(reply: dict) -> str:
    status = reply.get("status") or reply.get("state") or ""
    return str(status).strip().lower() if isinstance(status, str | int) else ""


def task_id_of(reply: dict) -> str | None:
    """The task id from `task_id`, `id`, or a bare string `data` (relays of Chat Bp's template)."""
    data = reply.get("data")
    for value in (reply.get("task_id"), reply.get("id"), data if isinstance(data, str) else None):
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    # LemonData may name the task only through its poll URL (`/v1/images/{id}`).
    poll_url = reply.get("poll_url")
    if isinstance(poll_url, str) and poll_url.rstrip("/"):
        return poll_url.rstrip("/").rsplit("/", 1)[-1] or None
    return None


def progress_of(reply: dict) -> int | None:
    """`progress_pct: 50`, `progress: 0.5` or `progress: "50%"`, as a whole percentage."""
    value = reply.get("progress_pct", reply.get("progress"))
    if isinstance(value, str):
        value = to_decimal(value.strip().rstrip("%"))
    elif isinstance(value, bool):
        value = None
    if value is None or not isinstance(value, int | float | Decimal):
        return None
    if 0 < value < 1 and "progress_pct" not in reply and not isinstance(value, int):
        value = value * 100
    return max(0, min(100, int(value)))


def failure_reason(reply: dict) -> str:
    for name in ("error", "fail_reason", "failure_reason", "message", "msg", "reason"):
        reason = reply.get(name)
        if isinstance(reason, dict):
            reason = reason.get("message") or reason.get("msg") or reason.get("code")
        if reason:
            return str(reason)
    return ""


def read_task(
    adapter: Adapter, call: Call, reply: dict, remote_id: str | None = None
) -> Running | Finished | Failed:
    """One reading of every task or image reply the evidence shows, for submit and poll alike.

    Images a reply plainly carries are kept whatever its status says, unless it says the task
    is still running (a partial list) or failed. A reply with no status, no images and no task
    id raises `ReplyNotUnderstood` naming what was missing.
    """
    reply = unwrap(reply)
    status = status_of(reply)
    task_id = task_id_of(reply) or remote_id
    if reply.get("cancelled") is True or reply.get("cancellation_status") == "cancelled":
        status = "cancelled"  # LemonData: `failed` with `cancelled: true` (get-task-status)
    if status in STOPPED:
        error = task_stopped(adapter.label, STOPPED[status], failure_reason(reply), call.secrets)
        return Failed(error, None, call.raw)
    if "fail" in status and "upload" in status:
        # Chat Bp's "succeeded but image upload failed": made, probably charged, not delivered.
        return Failed(no_images(adapter.label), None, call.raw)
    if status in FAILED or "fail" in status:
        error = generation_failed(adapter.label, failure_reason(reply), call.secrets)
        return Failed(error, None, call.raw)
    if status in ("not_found", "not_exist", "task_not_found", "task_not_exist"):
        error = VendorError(ErrorCode.NOT_FOUND, f"{adapter.label} does not know this task.")
        return Failed(error, None, call.raw)
    images = find_images(reply)
    if status in SUCCEEDED or (images and not status):
        if not images:
            return Failed(no_images(adapter.label), None, call.raw)
        usage = reply.get("usage")
        spend = Spend(tokens=usage if isinstance(usage, dict) else None, images=len(images))
        return Finished(images, spend, call.raw, task_id)
    if not status:
        code, message, _ = error_details(reply)
        if remote_id and looks_not_found(f"{code} {message}"):
            error = VendorError(ErrorCode.NOT_FOUND, f"{adapter.label} does not know this task.")
            return Failed(error, None, call.raw)
        if remote_id is None and task_id is None:
            raise ReplyNotUnderstood("no status, no task id and no images")
        if remote_id is not None:
            raise ReplyNotUnderstood("no status and no images")
        status = "submitted"
    return Running(status, progress_of(reply), adapter.poll_interval, call.raw)


def accepted(adapter: Adapter, call: Call, result: Running | Finished | Failed, reply: dict):
    """At submit: a running task becomes `Accepted` with the id and poll URL it came with."""
    if not isinstance(result, Running):
        return result
    reply = unwrap(reply)
    task_id = task_id_of(reply)
    if task_id is None:
        raise ReplyNotUnderstood("a status but no task id and no images")
    poll_url = reply.get("poll_url")
    return Accepted(
        task_id,
        poll_url if isinstance(poll_url, str) and poll_url else None,
        adapter.poll_interval,
        None,
        call.raw,
    )


def images_result(
    adapter: Adapter, call: Call, reply: dict, remote_id: str | None = None
) -> Finished | Failed:
    """`Finished` from a `{"data": [...], "usage": {...}}` reply, or `Failed(no_images)`."""
    images = find_images(reply)
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

    Both are reads that never spend credits. Balance = hard_limit_usd − total_usage / 100
    (new-api's hard limit is remaining + used), in the relay's display unit despite the "_usd".
    A used-up key answers 401 "该令牌额度已用尽", which the error mapping calls no credits.
    """
    try:
        subscription = call.request("GET", "/v1/dashboard/billing/subscription")
    except VendorFailure as failure:
        if failure.error.code != ErrorCode.NOT_FOUND:
            raise
        call.request("GET", "/v1/models")
        return balance_verification(adapter.label, None, None)
    limit = to_decimal(subscription.get("hard_limit_usd"))
    if limit is not None and limit >= UNLIMITED:
        return unlimited_verification(adapter.label)
    try:
        used = to_decimal(call.request("GET", "/v1/dashboard/billing/usage").get("total_usage"))
    except VendorFailure:
        used = None
    if limit is None or used is None:
        return balance_verification(adapter.label, None, None)
    return balance_verification(adapter.label, limit - used / 100, relay_unit(call))


def relay_unit(call: Call) -> str:
    """The unit a new-api relay shows amounts in, from its public `/api/status`: USD, CNY at the
    relay's rate, or raw quota ("TOKENS"); older one-api relays say only `display_in_currency`.
    """
    try:
        reply = call.request("GET", "/api/status")
    except VendorFailure:
        return RELAY_UNITS_UNKNOWN
    status = reply.get("data") if isinstance(reply.get("data"), dict) else reply
    kind = str(status.get("quota_display_type") or "").upper()
    if kind in ("USD", "CNY"):
        return kind
    if kind == "TOKENS" or status.get("display_in_currency") is False:
        return "quota"
    if kind == "CUSTOM" and isinstance(status.get("custom_currency_symbol"), str):
        return status["custom_currency_symbol"][:8] or RELAY_UNITS_UNKNOWN
    if status.get("display_in_currency") is True:
        return "USD"
    return RELAY_UNITS_UNKNOWN


RELAY_UNITS_UNKNOWN = "relay units"
