"""Fake Chat Bp: `?async=true` tasks whose polls always answer HTTP 200, plus edits."""

from __future__ import annotations

import time
from typing import Any

from studio.vendors.fakes.core import RelayFake, Reply, Request, Route, size_of

SIZES = ("1024x1024", "1792x1024", "1024x1792", "1536x1024", "1024x1536")


class ChatBpFake(RelayFake):
    vendor = "chatbp"
    models = ("dall-e-3", "gpt-image-1")
    statuses = ("queued", "running", "succeeded", "failed")
    settable = RelayFake.settable | {"async_reply"}
    # Relays of the same template (VENDORS.md, "What the vendors really send"):
    # - "created_task_id": the submit answers `{"created", "task_id": "img_…", "data": []}`;
    # - "sub2api": tasks say `processing` with progress "50%", then `completed` with the images
    #   under `result.data[]` and the first again as `image_url`;
    # - "image_url": a finished task carries its one image only as `image_url`;
    # - "newapi_not_found": an unknown task is HTTP 400 `task_not_exist`, as new-api answers.
    variants = (
        *RelayFake.variants,
        "created_task_id",
        "sub2api",
        "image_url",
        "newapi_not_found",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_reply = "task_id"  # which of the shapes relays use: task_id, id or data

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/v1/images/generations", "generations", "submit"),
            Route("POST", r"/v1/images/edits", "edits", "submit"),
            Route("GET", r"/v1/images/tasks/(?P<task_id>[^/]+)", "task", "poll"),
            *self.relay_routes(),
        ]

    def generations(self, req: Request) -> Reply:
        body = req.json if isinstance(req.json, dict) else {}
        for name in ("model", "size", "n", "prompt"):
            if body.get(name) in (None, ""):
                return self.invalid(name, "is required")
        if not self.offers(body["model"]):
            return self.invalid("model", "no available channel for this model")
        if body["size"] not in SIZES:
            return self.invalid("size", f"must be one of {', '.join(SIZES)}")
        n = body["n"]
        if not isinstance(n, int) or not 1 <= n <= 4:
            return self.invalid("n", "must be between 1 and 4")
        if not self.charge(req, self.price * n):
            return self.insufficient()
        size = size_of(body["size"])
        if req.query.get("async") != "true":
            return self.sync_images(req, n, size, body["prompt"], b64=False)
        task = self.new_task(req, n, *size, body["prompt"])
        if self.variant == "created_task_id":
            task.id = f"img_{task.id}"
            with self.lock:
                self.tasks[task.id] = task
            return Reply(200, {"created": int(time.time()), "task_id": task.id, "data": []})
        return Reply(
            200, {"data": task.id} if self.async_reply == "data" else {self.async_reply: task.id}
        )

    def edits(self, req: Request) -> Reply:
        problem = self.edit_files(req, max_images=16)
        if problem:
            return problem
        n = int(req.form.get("n", "1"))
        if not self.charge(req, self.price * n):
            return self.insufficient()
        size = size_of(req.form.get("size"))
        return self.sync_images(req, n, size, req.form["prompt"], b64=True)

    def task(self, req: Request) -> Reply:
        # The vendor answers every poll with HTTP 200, even for a task it does not know.
        task = self.own_task(req, req.params["task_id"])
        if task is None and self.variant == "newapi_not_found":
            return Reply(400, {"code": "task_not_exist", "message": "task_not_exist", "data": None})
        if task is None:
            return Reply(200, {"code": "task_not_found", "message": "task not found", "data": None})
        if self.variant == "sub2api":
            return Reply(200, self.sub2api_task(task, req))
        status = self.status_of(task, req)
        progress = {"queued": 0, "running": 50}.get(status, 100)
        body: dict[str, Any] = {
            "id": task.id,
            "prompt": task.prompt,
            "width": task.width,
            "height": task.height,
            "n": task.n,
            "status": status,
            "progress_pct": progress,
        }
        if status == "succeeded" and self.variant == "image_url":
            body["image_url"] = next(iter(self.image_urls(task)), None)
        elif status == "succeeded":
            # no_images outcome: "succeeded but image upload failed" → no urls at all.
            body["data"] = [{"url": url} for url in self.image_urls(task)]
        elif status == "failed":
            body["error"] = self.policy_message
        return Reply(200, body)

    def sub2api_task(self, task: Any, req: Request) -> dict[str, Any]:
        """A task as sub2api's docs/ASYNC_IMAGE_TASKS.md shows it."""
        status = {"queued": "processing", "running": "processing", "succeeded": "completed"}.get(
            self.status_of(task, req), self.status_of(task, req)
        )
        body: dict[str, Any] = {
            "id": task.id,
            "task_id": task.id,
            "object": "image.generation.task",
            "status": status,
            "progress": "50%" if status == "processing" else "100%",
            "created_at": int(task.created),
        }
        if status == "completed":
            urls = self.image_urls(task)
            body["result"] = {"created": int(time.time()), "data": [{"url": u} for u in urls]}
            if urls:
                body["image_url"] = urls[0]
        elif status == "failed":
            body["error"] = {"type": "api_error", "message": self.policy_message}
        return body
