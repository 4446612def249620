"""Chat Bp: OpenAI-style relay with an `?async=true` task mode whose polls are always HTTP 200."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from studio.vendors.base import (
    Accepted,
    Adapter,
    Call,
    Capabilities,
    Failed,
    Finished,
    GenerationRequest,
    ModelSpec,
    Running,
    Verification,
)
from studio.vendors.openai_style import accepted, newapi_check_key, post_edit, read_task


class ChatBp(Adapter):
    id = "chatbp"
    label = "Chat Bp"
    default_base_url = None  # not published: the operator sets it
    poll_interval = 5.0
    models_path = "/v1/models"  # new-api relay: lists the key's models
    capabilities = Capabilities(
        scenes=("text-to-image", "image-to-image", "edit"),
        models=(
            # Documented (vendor-docs/chatbp.txt: the DALL·E 3 format and its sample requests).
            ModelSpec(
                "dall-e-3",
                "DALL·E 3",
                sizes=("1024x1024", "1792x1024", "1024x1792"),
                default_size="1024x1024",
            ),
            # Not in the excerpt we have; the relay's edits route is the OpenAI one.
            ModelSpec(
                "gpt-image-1",
                "GPT Image 1",
                scenes=("text-to-image", "image-to-image", "edit"),
                sizes=("1024x1024", "1536x1024", "1024x1536"),
                default_size="1024x1024",
                n_max=4,
                max_references=16,
            ),
        ),
        reference_mode="multipart",
    )

    def send(self, call: Call, req: GenerationRequest) -> Accepted | Finished | Failed:
        if req.scene != "text-to-image":
            return self._accepted_or_done(call, post_edit(self, call, req))
        # The vendor requires model, size, n and prompt on every request.
        body = {
            "model": req.model,
            "prompt": req.prompt,
            "size": self.spec(req).default_size,
            "n": 1,
            **req.params,
        }
        if call.conn.options.get("async", True):
            reply = call.request("POST", "/v1/images/generations?async=true", json=body)
        else:
            reply = call.request(
                "POST", "/v1/images/generations", json=body, read_timeout=self.sync_timeout(call)
            )
        return self._accepted_or_done(call, reply)

    def _accepted_or_done(self, call: Call, reply: dict) -> Accepted | Finished | Failed:
        # Sync: `{"created", "data": [...]}`. Async: `{"task_id"}`, `{"id"}`, a string `data`,
        # or `{"created", "task_id": "img_…", "data": []}`: an empty list beside the id.
        return accepted(self, call, read_task(self, call, reply), reply)

    def fetch(
        self, call: Call, remote_id: str, poll_url: str | None
    ) -> Running | Finished | Failed:
        # Every answer is HTTP 200: the body alone says what happened.
        reply = call.request("GET", f"/v1/images/tasks/{quote(remote_id, safe='')}")
        result = read_task(self, call, reply, remote_id)
        if isinstance(result, Finished):
            size = {"width": reply.get("width"), "height": reply.get("height")}
            hints = {k: v for k, v in size.items() if isinstance(v, int)}
            result = replace(result, images=[replace(i, **hints) for i in result.images])
        return result

    def check_key(self, call: Call) -> Verification:
        return newapi_check_key(self, call)
