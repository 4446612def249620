"""Fake LemonData: sync or async by model, poll_url replies, rate-limit headers, balance."""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

from studio.vendors.fakes.core import (
    RelayFake,
    Reply,
    Request,
    Route,
    gpt_image_2_size_ok,
    retry_after_headers,
    size_of,
)

ASYNC_MODELS = ("flux-pro", "midjourney", "ideogram-v3")
SYNC_MODELS = ("dall-e-3", "dall-e-2", "flux-schnell", "stable-diffusion-3")
# docs.lemondata.cc create-image: a task when asked with `async`, else inline; free WxH sizes.
EITHER_MODELS = ("gpt-image-2",)
DALLE3_SIZES = ("1024x1024", "1792x1024", "1024x1792")
OTHER_SIZES = ("512x512", "1024x1024")
GPT_IMAGE_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
QUALITY = {"dall-e-3": ("standard", "hd"), "gpt-image-2": ("low", "medium", "high", "auto")}


class LemonDataFake(RelayFake):
    vendor = "lemondata"
    statuses = ("pending", "processing", "completed", "failed")
    price = Decimal("0.04")
    settable = RelayFake.settable | {"poll_url_style"}
    # Beyond the excerpt (docs.lemondata.cc create-image, get-image-status, error-handling):
    # - "id_only": the async reply names the task as `id` and `poll_url: /v1/images/{id}`;
    # - "poll_url_only": the async reply is just `poll_url` (`/v1/tasks/{id}`) and placeholders;
    # - "quota_exceeded": an empty account is 402 `quota_exceeded`, not `insufficient_balance`.
    variants = ("id_only", "poll_url_only", "quota_exceeded")

    def __init__(
        self, *args: Any, rate_limit: tuple[int, float] | None = (60, 60.0), **kw: Any
    ) -> None:
        super().__init__(*args, rate_limit=rate_limit, **kw)
        self.poll_url_style = "generations"  # or "tasks", or "absolute"

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/v1/images/generations", "generations", "submit"),
            Route("GET", r"/v1/images/generations/(?P<task_id>[^/]+)", "task", "poll"),
            Route("GET", r"/v1/tasks/(?P<task_id>[^/]+)", "task", "poll"),
            Route("GET", r"/v1/images/(?P<task_id>[^/]+)", "task", "poll"),
            Route("GET", r"/v1/management/balance", "balance_info", "verify", auth="management"),
        ]

    def error(self, status: int, code: str, message: str, **extra: Any) -> Reply:
        kind = extra.pop("type", "invalid_request_error")
        return Reply(status, {"error": {"message": message, "type": kind, "code": code, **extra}})

    def insufficient(self) -> Reply:
        if self.variant == "quota_exceeded":
            return self.error(402, "quota_exceeded", "Quota exceeded", type="insufficient_quota")
        return self.error(
            402, "insufficient_balance", "Insufficient balance", type="insufficient_quota"
        )

    def not_found(self) -> Reply:
        return self.error(404, "async_task_not_found", "Task not found or expired")

    def rate_limited(self, wait: float, scenario: str | None = None) -> Reply:
        limit = self.rate_limit[0] if self.rate_limit else 60
        reply = self.error(
            429, "rate_limit_exceeded", "Rate limit exceeded", type="rate_limit_error"
        )
        form = scenario if scenario in ("429_seconds", "429_date") else "429_seconds"
        reply.headers = retry_after_headers(form, max(1.0, math.ceil(wait)))
        reply.headers.update(
            {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time() + wait)),
            }
        )
        return reply

    def generations(self, req: Request) -> Reply:
        body = req.json if isinstance(req.json, dict) else {}
        model, prompt, n = body.get("model", "dall-e-3"), body.get("prompt"), body.get("n", 1)
        if "async" in body and not isinstance(body["async"], bool):
            return self.invalid("async", "must be a boolean")
        if model not in ASYNC_MODELS + SYNC_MODELS + EITHER_MODELS:
            return self.invalid("model", "model not found")
        sizes = {"dall-e-3": DALLE3_SIZES, "gpt-image-2": GPT_IMAGE_SIZES}.get(model, OTHER_SIZES)
        if not isinstance(prompt, str) or not prompt.strip():
            return self.invalid("prompt", "is required")
        if not isinstance(n, int) or not 1 <= n <= (1 if model == "dall-e-3" else 4):
            return self.invalid("n", "out of range for this model")
        size = body.get("size", "1024x1024")
        if size not in sizes and not (model == "gpt-image-2" and gpt_image_2_size_ok(size)):
            return self.invalid("size", f"must be one of {', '.join(sizes)}")
        if "quality" in body and body["quality"] not in QUALITY.get(model, ()):
            return self.invalid("quality", "not taken by this model, or not one of its values")
        if "style" in body and (model != "dall-e-3" or body["style"] not in ("vivid", "natural")):
            return self.invalid("style", "only dall-e-3 takes it, with vivid, natural")
        if body.get("response_format", "url") not in ("url", "b64_json"):
            return self.invalid("response_format", "must be url or b64_json")
        if not self.charge(req, self.price * n):
            return self.insufficient()
        b64 = body.get("response_format") == "b64_json"
        if model in SYNC_MODELS or (model in EITHER_MODELS and not body.get("async")):
            return self.sync_images(req, n, size_of(body.get("size")), prompt, b64)
        task = self.new_task(req, n, *size_of(body.get("size")), prompt)
        task.b64 = task.b64 or b64
        poll_url = {
            "generations": f"/v1/images/generations/{task.id}",
            "tasks": f"/v1/tasks/{task.id}",
            "absolute": f"{self.url}/v1/tasks/{task.id}",
        }[self.poll_url_style]
        if self.variant == "id_only":
            reply = {"created": int(time.time()), "id": task.id, "status": "pending"}
            return Reply(200, {**reply, "poll_url": f"/v1/images/{task.id}", "data": []})
        if self.variant == "poll_url_only":
            return Reply(200, {"poll_url": f"/v1/tasks/{task.id}", "data": [{"url": ""}]})
        return Reply(
            200,
            {
                "created": int(time.time()),
                "task_id": task.id,
                "status": "pending",
                "poll_url": poll_url,
                "data": [{"url": ""}],
            },
        )

    def task(self, req: Request) -> Reply:
        task = self.own_task(req, req.params["task_id"])
        if task is None:
            return self.not_found()
        status = self.status_of(task, req)
        body: dict[str, Any] = {
            "created": int(time.time()),
            "task_id": task.id,
            "status": status,
            "data": [{"url": ""}],
        }
        if status in ("cancelled", "expired"):
            # A cancelled task comes back `failed` with `cancelled: true` (get-task-status).
            body.update(status="failed", error=f"Task {status}")
            if status == "cancelled":
                body["cancelled"] = True
        if status == "completed":
            if task.b64:
                body["data"] = [{"b64_json": b} for b in self.image_b64(task)]
            else:
                urls = self.image_urls(task)
                body["data"] = [{"url": u, "revised_prompt": task.prompt} for u in urls]
        elif status == "failed":
            body["error"] = self.policy_message
        return Reply(200, body)

    def balance_info(self, req: Request) -> Reply:
        account = next(
            (a for a in self.keys.values() if req.key and a.management_token == req.key), None
        )
        if account is None:
            return self.error(401, "invalid_management_token", "Invalid management token")
        # USD, with no currency field (docs.lemondata.cc management/get-balance).
        return Reply(200, {"balance": account.credits})
