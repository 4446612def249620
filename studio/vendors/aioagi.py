"""AIOAGI: OpenAI-compatible GPT-Image relay; synchronous, replies with URLs or base64."""

from __future__ import annotations

from dataclasses import replace

from studio.vendors.base import (
    GPT_IMAGE_2_SIZES,
    GPT_IMAGE_CHOICES,
    Adapter,
    Call,
    Capabilities,
    ErrorCode,
    Failed,
    Finished,
    GenerationRequest,
    ModelSpec,
    Running,
    VendorError,
    Verification,
)
from studio.vendors.i18n import gettext as _
from studio.vendors.openai_style import image_api_body, images_result, newapi_check_key, post_edit

# Documented (vendor-docs/aioagi.txt): the presets; free sizes follow the gpt-image-2 rule
# (docs.aiandgpu.com, see GPT_IMAGE_2_SIZES).
GPT_IMAGE = ModelSpec(
    name="gpt-image-2",
    label="GPT Image 2",
    scenes=("text-to-image", "image-to-image", "edit"),
    sizes=("1024x1024", "1536x1024", "1024x1536", "auto"),
    default_size="auto",
    n_max=4,
    choices={**GPT_IMAGE_CHOICES, "input_fidelity": ("high", "low")},
    sync=True,
    max_references=16,
    size_rule=GPT_IMAGE_2_SIZES,
    # VENDORS.md: the edit takes a `mask` file part, as OpenAI's does.
    masks=True,
)
# Not in the vendor's docs. Source: a public gpt_academic-based project's tests against
# api.aiearth.dev (its /v1/models lists gpt-image-2-4k; edits sent with size 2048x1152). The
# presets are the usual 2K/4K ones; everything else as gpt-image-2.
GPT_IMAGE_4K = replace(
    GPT_IMAGE,
    name="gpt-image-2-4k",
    label="GPT Image 2 (4K)",
    sizes=("3840x2160", "2160x3840", "2048x2048", "2048x1152", "1152x2048"),
    default_size="3840x2160",
)


class Aioagi(Adapter):
    id = "aioagi"
    label = "AIOAGI"
    default_base_url = "https://api.aiearth.dev"
    mirrors = {"aiearth.vip": "https://api.aiearth.vip"}
    models_path = "/v1/models"  # new-api: lists the key's models with supported_endpoint_types
    capabilities = Capabilities(
        scenes=("text-to-image", "image-to-image", "edit"),
        models=(GPT_IMAGE, GPT_IMAGE_4K),
        reference_mode="multipart",
    )

    def check(self, req: GenerationRequest, spec: ModelSpec) -> dict[str, str]:
        errors = {}
        if req.scene == "text-to-image" and "input_fidelity" in req.params:
            errors["input_fidelity"] = _("Input fidelity applies only to edits.")
        if req.params.get("background") == "transparent" and req.params.get(
            "output_format"
        ) not in (None, "png", "webp"):
            errors["background"] = _("A transparent background needs png or webp output.")
        return errors

    def send(self, call: Call, req: GenerationRequest) -> Finished | Failed:
        if req.scene == "text-to-image":
            reply = call.request(
                "POST",
                "/v1/images/generations",
                json=image_api_body(req),
                read_timeout=self.sync_timeout(call),
            )
        else:
            reply = post_edit(self, call, req)
        return images_result(self, call, reply)

    def fetch(
        self, call: Call, remote_id: str, poll_url: str | None
    ) -> Running | Finished | Failed:
        error = VendorError(ErrorCode.NOT_FOUND, f"{self.label} answers at once; it has no tasks.")
        return Failed(error)

    def check_key(self, call: Call) -> Verification:
        return newapi_check_key(self, call)
