"""ChatFire: task-shaped or plain OpenAI replies, maybe already complete; results expire."""

from __future__ import annotations

from urllib.parse import quote

from studio.vendors.base import (
    GPT_IMAGE_2_SIZES,
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
    SizeRule,
    VendorFailure,
    Verification,
    balance_verification,
)
from studio.vendors.openai_style import accepted, read_task

# Documented (vendor-docs/chatfire.txt).
SIZES = ("1024x1024", "1024x1792", "1792x1024", "1328x1328")
# The vendor's current models take larger sizes too, e.g. 2048x2048 (source: the vendor's own
# client, chatfire-AI/huobao-drama seed data; see VENDORS.md, "What the vendors really send").
CURRENT_SIZES = (*SIZES, "2048x2048")
GPT_IMAGE_2_PRESETS = ("1024x1024", "1536x1024", "1024x1536", "2048x2048")
# Not published by the vendor; the operator can set conn.options["poll_path"]. The first is the
# one path seen in public code (huobao-drama's generic adapter), the second the OpenAI-relay
# convention: a 404 on the first tries the second.
POLL_PATHS = ("/v1/images/task/{task_id}", "/v1/images/generations/{task_id}")


def _model(
    name: str, label: str, sizes: tuple[str, ...] = SIZES, size_rule: SizeRule | None = None
) -> ModelSpec:
    return ModelSpec(
        name,
        label,
        scenes=("text-to-image", "image-to-image"),
        sizes=sizes,
        default_size="1024x1024",
        n_max=4,
        choices={"response_format": ("url",)},
        max_references=1,
        size_rule=size_rule,
    )


class ChatFire(Adapter):
    id = "chatfire"
    label = "ChatFire"
    default_base_url = "https://api.chatfire.site"
    poll_interval = 5.0
    models_path = "/v1/models"  # new-api relay: lists the key's models
    capabilities = Capabilities(
        scenes=("text-to-image", "image-to-image"),
        models=(
            # Documented (vendor-docs/chatfire.txt).
            _model("seedream-3.0", "Seedream 3.0"),
            _model("jimeng", "Jimeng"),
            _model("keling", "Kling"),
            _model("dall-e-3", "DALL·E 3"),
            # Current models (source: chatfire-AI/huobao-drama seed data, per VENDORS.md).
            _model("nano-banana-pro", "Nano Banana Pro", CURRENT_SIZES),
            _model("banana-2", "Banana 2", CURRENT_SIZES),
            _model("doubao-seedream-4-5-251128", "Seedream 4.5", CURRENT_SIZES),
            # Same source; free sizes follow the gpt-image-2 rule (docs.aiandgpu.com).
            _model("gpt-image-2", "GPT Image 2", GPT_IMAGE_2_PRESETS, GPT_IMAGE_2_SIZES),
        ),
        reference_mode="url",
    )

    def send(self, call: Call, req: GenerationRequest) -> Accepted | Finished | Failed:
        body = {"model": req.model, "prompt": req.prompt, **req.params}
        if req.references:
            # The docs name `url`; the vendor's own clients send `image: [url, …]` (huobao-drama
            # openai_image_client.go). Both, so image-to-image never silently runs as text.
            body["image"] = [r.url for r in req.references]
            body["url"] = req.references[0].url
        reply = call.request(
            "POST", "/v1/images/generations", json=body, read_timeout=self.sync_timeout(call)
        )
        # Task-shaped (maybe already completed) as documented, or the plain OpenAI
        # `{"created", "data": [...]}` the vendor's own clients parse.
        return accepted(self, call, read_task(self, call, reply), reply)

    def fetch(
        self, call: Call, remote_id: str, poll_url: str | None
    ) -> Running | Finished | Failed:
        task = quote(remote_id, safe="")
        custom = call.conn.options.get("poll_path")
        paths = [custom] if custom else list(POLL_PATHS)
        for index, template in enumerate(paths):
            try:
                reply = call.request("GET", template.format(task_id=task))
            except VendorFailure as failure:
                # A 404 on a guessed path may mean the path, not the task: try the next guess.
                if failure.error.code == ErrorCode.NOT_FOUND and index + 1 < len(paths):
                    continue
                raise
            return read_task(self, call, reply, remote_id)
        raise AssertionError("unreachable: the last path's failure is raised")

    def check_key(self, call: Call) -> Verification:
        # No balance endpoint is published; listing models is free and needs a valid key.
        call.request("GET", "/v1/models")
        return balance_verification(self.label, None, None)
