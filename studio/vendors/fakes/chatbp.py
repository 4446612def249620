"""Fake Chat Bp: `?async=true` tasks whose polls always answer HTTP 200, plus edits."""

from __future__ import annotations

from typing import Any

from studio.vendors.fakes.core import RelayFake, Reply, Request, Route, size_of

SIZES = ("1024x1024", "1792x1024", "1024x1792", "1536x1024", "1024x1536")


class ChatBpFake(RelayFake):
    vendor = "chatbp"
    models = ("dall-e-3", "gpt-image-1")
    statuses = ("queued", "running", "succeeded", "failed")
    settable = RelayFake.settable | {"async_reply"}

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
        if task is None:
            return Reply(200, {"code": "task_not_found", "message": "task not found", "data": None})
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
        if status == "succeeded":
            # no_images outcome: "succeeded but image upload failed" → no urls at all.
            body["data"] = [{"url": url} for url in self.image_urls(task)]
        elif status == "failed":
            body["error"] = self.policy_message
        return Reply(200, body)
