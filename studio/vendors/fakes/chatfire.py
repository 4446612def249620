"""Fake ChatFire: task-shaped replies, often already completed, with expiring oss_url images."""

from __future__ import annotations

import time
from typing import Any

from studio.vendors.fakes.core import (
    RelayFake,
    Reply,
    Request,
    Route,
    Task,
    gpt_image_2_size_ok,
    size_of,
)

MODELS = ("seedream-3.0", "jimeng", "keling", "dall-e-3")
SIZES = ("1024x1024", "1024x1792", "1792x1024", "1328x1328")
# The vendor's current models (chatfire-AI/huobao-drama seed data): larger sizes too.
CURRENT_MODELS = ("nano-banana-pro", "banana-2", "doubao-seedream-4-5-251128", "gpt-image-2")
CURRENT_SIZES = (*SIZES, "1536x1024", "1024x1536", "2048x2048")


class ChatFireFake(RelayFake):
    vendor = "chatfire"
    models = MODELS + CURRENT_MODELS
    statuses = ("pending", "processing", "completed", "failed")
    settable = RelayFake.settable | {"instant", "poll_path"}
    # "openai": the plain `{"created", "data": [{"url"}]}` the vendor's own clients parse
    # (huobao-drama openai_image_client.go), no status and no task id.
    variants = (*RelayFake.variants, "openai")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instant = True  # reply already completed, as the vendor usually does
        # The one poll path seen in public code (huobao-drama's generic adapter).
        self.poll_path = "/v1/images/task/{task_id}"

    def routes(self) -> list[Route]:
        poll = self.poll_path.replace("{task_id}", "(?P<task_id>[^/]+)")
        return [
            Route("POST", r"/v1/images/generations", "generations", "submit"),
            Route("GET", poll, "task", "poll"),
            *self.relay_routes(),
        ]

    def generations(self, req: Request) -> Reply:
        body = req.json if isinstance(req.json, dict) else {}
        prompt, n = body.get("prompt"), body.get("n", 1)
        model, size = body.get("model"), body.get("size", "1024x1024")
        if not self.offers(model):
            return self.invalid("model", f"must be one of {', '.join(self.models)}")
        if not isinstance(prompt, str) or not prompt.strip():
            return self.invalid("prompt", "is required")
        if not isinstance(n, int) or not 1 <= n <= 4:
            return self.invalid("n", "must be between 1 and 4")
        sizes = SIZES if model in MODELS else CURRENT_SIZES
        if size not in sizes and not (model == "gpt-image-2" and gpt_image_2_size_ok(size)):
            return self.invalid("size", f"must be one of {', '.join(sizes)}")
        if body.get("response_format", "url") != "url":
            return self.invalid("response_format", "must be url")
        # The docs name `url`; the vendor's clients send `image: [url, …]`.
        references = (
            body.get("image") if "image" in body else [body["url"]] if "url" in body else []
        )
        if not isinstance(references, list) or not all(map(self.reference_ok, references)):
            return self.invalid("image", "could not download the reference images")
        if not self.charge(req, self.price * n):
            return self.insufficient()
        task = self.new_task(req, n, *size_of(body.get("size")), prompt)
        task.extra["model"] = body["model"]
        task.extra["references"] = len(references)
        if self.variant == "openai":
            if task.outcome == "content_policy":
                return self.content_policy()
            time.sleep(self.sync_s)
            if task.b64:
                data = [{"b64_json": b} for b in self.image_b64(task)]
            else:
                data = [{"url": url, "revised_prompt": prompt} for url in self.image_urls(task)]
            return Reply(200, {"created": int(time.time()), "data": data})
        if self.instant:
            time.sleep(self.sync_s)
            task.created -= self.pending_s + self.processing_s
        return Reply(200, self.task_body(task, req))

    def task(self, req: Request) -> Reply:
        task = self.own_task(req, req.params["task_id"])
        return Reply(200, self.task_body(task, req)) if task else self.not_found()

    def task_body(self, task: Task, req: Request) -> dict[str, Any]:
        status = self.status_of(task, req)
        body: dict[str, Any] = {
            "task_id": task.id,
            "status": status,
            "created_at": int(time.time()),
            "model": task.extra["model"],
            "prompt": task.prompt,
            "response_format": "url",
        }
        if status == "completed":
            expires = int(time.time() + self.file_ttl)
            common = {
                "width": task.width,
                "height": task.height,
                "format": "png",
                "expires_at": expires,
            }
            if task.b64:
                body["images"] = [{**common, "b64_json": b} for b in self.image_b64(task)]
            else:
                pairs = zip(self.image_urls(task), self.image_urls(task, "oss/"), strict=True)
                body["images"] = [{**common, "url": u, "oss_url": o} for u, o in pairs]
        elif status == "failed":
            body["error"] = {"code": "content_policy_violation", "message": self.policy_message}
        return body
