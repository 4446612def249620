"""Fake GirlGeneratorAI: async tasks, credits on submit, 10 requests a minute per key."""

from __future__ import annotations

from typing import Any

from studio.vendors.fakes.core import FakeServer, Reply, Request, Route

ASPECTS = {
    "auto": (1024, 1024),
    "1:1": (1024, 1024),
    "3:2": (1216, 832),
    "2:3": (832, 1216),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "3:4": (896, 1152),
    "4:3": (1152, 896),
}


class GirlGeneratorFake(FakeServer):
    vendor = "girlgenerator"
    statuses = ("pending", "processing", "success", "failed")

    def __init__(self, *args: Any, rate_limit: tuple[int, float] | None = (10, 60.0), **kw: Any):
        super().__init__(*args, rate_limit=rate_limit, **kw)

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/api/v1/generate", "generate", "submit"),
            Route("GET", r"/api/v1/tasks/(?P<task_id>[^/]+)", "task", "poll"),
        ]

    def generate(self, req: Request) -> Reply:
        body = req.json if isinstance(req.json, dict) else {}
        scene, prompt = body.get("scene"), body.get("prompt")
        aspect = body.get("aspect_ratio", "auto")
        if scene not in ("text-to-image", "image-to-image"):
            return self.invalid("scene", "must be text-to-image or image-to-image")
        if not isinstance(prompt, str) or not prompt.strip():
            return self.invalid("prompt", "is required")
        if len(prompt) > 2000:
            return self.invalid("prompt", "must be at most 2000 characters")
        if aspect not in ASPECTS:
            return self.invalid("aspect_ratio", f"must be one of {', '.join(ASPECTS)}")
        if scene == "image-to-image":
            urls = body.get("image_input")
            if not isinstance(urls, list) or not urls:
                return self.invalid("image_input", "is required for image-to-image")
            if not all(self.reference_ok(url) for url in urls):
                return self.invalid("image_input", "could not download the reference image")
        if not self.charge(req, self.price):
            return self.insufficient()
        task = self.new_task(req, 1, *ASPECTS[aspect], prompt)
        remaining = self.balance(req.key or "")
        return Reply(
            201,
            {
                "task_id": task.id,
                "status": "pending",
                "credits_used": self.price,
                "credits_remaining": remaining,
            },
        )

    def task(self, req: Request) -> Reply:
        task = self.own_task(req, req.params["task_id"])
        if task is None:
            return self.not_found()
        status = self.status_of(task, req)
        body: dict[str, Any] = {"task_id": task.id, "status": status}
        if status == "success":
            body["images"] = self.image_urls(task)
        elif status == "failed":
            body["error"] = self.policy_message
        return Reply(200, body)
