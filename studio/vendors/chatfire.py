"""ChatFire: task-shaped replies that may already be complete; results expire."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from studio.vendors.base import (
    Accepted,
    Adapter,
    Call,
    Capabilities,
    Failed,
    Finished,
    GenerationRequest,
    ImageSource,
    ModelSpec,
    Running,
    Spend,
    Verification,
    balance_verification,
    decode_b64,
    error_details,
    generation_failed,
    no_images,
    sniff_content_type,
)

SIZES = ("1024x1024", "1024x1792", "1792x1024", "1328x1328")
# Not published by the vendor; the operator can set conn.options["poll_path"].
DEFAULT_POLL_PATH = "/v1/images/generations/{task_id}"


def _model(name: str, label: str) -> ModelSpec:
    return ModelSpec(
        name,
        label,
        scenes=("text-to-image", "image-to-image"),
        sizes=SIZES,
        default_size="1024x1024",
        n_max=4,
        choices={"response_format": ("url",)},
        max_references=1,
    )


def _image(item: dict) -> ImageSource:
    expires = item.get("expires_at")
    hints = {
        "expires_at": datetime.fromtimestamp(expires, UTC) if isinstance(expires, int) else None,
        "width": item.get("width") if isinstance(item.get("width"), int) else None,
        "height": item.get("height") if isinstance(item.get("height"), int) else None,
    }
    url = item.get("oss_url") or item.get("url")
    if url:
        fmt = item.get("format")
        return ImageSource(url=url, content_type=f"image/{fmt}" if fmt else None, **hints)
    data = decode_b64(item.pop("b64_json"))  # pop: release the base64 text once decoded
    return ImageSource(data=data, content_type=sniff_content_type(data), **hints)


class ChatFire(Adapter):
    id = "chatfire"
    label = "ChatFire"
    default_base_url = "https://api.chatfire.site"
    poll_interval = 5.0
    capabilities = Capabilities(
        scenes=("text-to-image", "image-to-image"),
        models=(
            _model("seedream-3.0", "Seedream 3.0"),
            _model("jimeng", "Jimeng"),
            _model("keling", "Kling"),
            _model("dall-e-3", "DALL·E 3"),
        ),
        reference_mode="url",
    )

    def send(self, call: Call, req: GenerationRequest) -> Accepted | Finished | Failed:
        body = {"model": req.model, "prompt": req.prompt, **req.params}
        if req.references:
            body["url"] = req.references[0].url
        reply = call.request(
            "POST", "/v1/images/generations", json=body, read_timeout=self.sync_timeout(call)
        )
        result = self._task_result(call, reply)
        if isinstance(result, Running):
            return Accepted(str(reply["task_id"]), None, self.poll_interval, None, call.raw)
        return result

    def fetch(
        self, call: Call, remote_id: str, poll_url: str | None
    ) -> Running | Finished | Failed:
        template = call.conn.options.get("poll_path") or DEFAULT_POLL_PATH
        reply = call.request("GET", template.format(task_id=quote(remote_id, safe="")))
        return self._task_result(call, reply)

    def _task_result(self, call: Call, reply: dict) -> Running | Finished | Failed:
        status = str(reply["status"])
        task_id = reply.get("task_id")
        if status == "completed":
            images = [_image(item) for item in reply.get("images") or []]
            if not images:
                return Failed(no_images(self.label), None, call.raw)
            return Finished(images, Spend(images=len(images)), call.raw, task_id)
        if status == "failed":
            _, message, _ = error_details(reply)
            return Failed(generation_failed(self.label, message, call.secrets), None, call.raw)
        return Running(status, None, self.poll_interval, call.raw)

    def check_key(self, call: Call) -> Verification:
        # No balance endpoint is published; listing models is free and needs a valid key.
        call.request("GET", "/v1/models")
        return balance_verification(self.label, None, None)
