"""Chat Bp: OpenAI-style relay with an `?async=true` task mode whose polls are always HTTP 200."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from studio.vendors.base import (
    Accepted,
    Adapter,
    Call,
    Capabilities,
    ErrorCode,
    Failed,
    Finished,
    GenerationRequest,
    ModelSpec,
    Running,
    Spend,
    VendorError,
    Verification,
    error_details,
    generation_failed,
    looks_not_found,
    no_images,
)
from studio.vendors.openai_style import images_result, newapi_check_key, openai_images, post_edit

SUCCEEDED = ("succeeded", "success", "completed", "uploaded", "succeeded_uploaded")


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
        data = reply.get("data")
        if isinstance(data, list):
            return images_result(self, call, reply)
        if isinstance(data, dict):
            data = data.get("task_id") or data.get("id")
        task_id = reply.get("task_id") or reply.get("id") or data
        if not isinstance(task_id, str | int) or not task_id:
            raise ValueError("no task id in the async reply")
        return Accepted(str(task_id), None, self.poll_interval, None, call.raw)

    def fetch(
        self, call: Call, remote_id: str, poll_url: str | None
    ) -> Running | Finished | Failed:
        # Every answer is HTTP 200: the body alone says what happened.
        reply = call.request("GET", f"/v1/images/tasks/{quote(remote_id, safe='')}")
        status = str(reply.get("status") or "").lower()
        if status in SUCCEEDED:
            images = openai_images(reply.get("data") if isinstance(reply.get("data"), list) else [])
            if not images:
                return Failed(no_images(self.label), None, call.raw)
            size = {"width": reply.get("width"), "height": reply.get("height")}
            hints = {k: v for k, v in size.items() if isinstance(v, int)}
            images = [replace(image, **hints) for image in images]
            return Finished(images, Spend(images=len(images)), call.raw, remote_id)
        if "upload" in status and "fail" in status:
            return Failed(no_images(self.label), None, call.raw)
        if "fail" in status or status == "error":
            error = generation_failed(self.label, self._reason(reply), call.secrets)
            return Failed(error, None, call.raw)
        code, message, _ = error_details(reply)
        if status in ("", "not_found") and looks_not_found(f"{status} {code} {message}"):
            error = VendorError(ErrorCode.NOT_FOUND, f"{self.label} does not know this task.")
            return Failed(error, None, call.raw)
        progress = reply.get("progress_pct")
        progress = int(progress) if isinstance(progress, int | float) else None
        return Running(status or "unknown", progress, self.poll_interval, call.raw)

    @staticmethod
    def _reason(reply: dict) -> str:
        reason = reply.get("error") or reply.get("fail_reason") or reply.get("message") or ""
        return str(reason.get("message", "")) if isinstance(reason, dict) else str(reason)

    def check_key(self, call: Call) -> Verification:
        return newapi_check_key(self, call)
