"""LemonData: OpenAI-style images API, synchronous or task-based depending on the model."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from studio.vendors.base import (
    GPT_IMAGE_2_SIZES,
    GPT_IMAGE_CHOICES,
    Accepted,
    Adapter,
    Call,
    Capabilities,
    Failed,
    Finished,
    GenerationRequest,
    ModelSpec,
    Running,
    VendorFailure,
    Verification,
    balance_verification,
    same_origin,
    to_decimal,
)
from studio.vendors.i18n import gettext as _
from studio.vendors.openai_style import accepted, image_api_body, read_task

FORMATS = {"response_format": ("url", "b64_json")}
# Long synchronous requests are the ones that die on a proxy's timeout: these models take
# `async` (docs.lemondata.cc create-image), so the studio asks for a task unless told otherwise.
ASYNC_BY_DEFAULT = frozenset({"gpt-image-2"})
OTHER_SIZES = ("512x512", "1024x1024")


def _model(name: str, label: str, sync: bool) -> ModelSpec:
    return ModelSpec(
        name,
        label,
        sizes=OTHER_SIZES,
        default_size="1024x1024",
        n_max=4,
        choices=FORMATS,
        sync=sync,
    )


class LemonData(Adapter):
    id = "lemondata"
    label = "LemonData"
    default_base_url = "https://api.lemondata.cc"
    # The vendor suggests polling every 3–5 s; most tasks take 30–120 s.
    poll_interval = 4.0
    poll_backoff = 1.25
    poll_max = 15.0
    capabilities = Capabilities(
        scenes=("text-to-image",),
        models=(
            # Documented (vendor-docs/lemondata.txt), down to stable-diffusion-3.
            ModelSpec(
                "dall-e-3",
                "DALL·E 3",
                sizes=("1024x1024", "1792x1024", "1024x1792"),
                default_size="1024x1024",
                choices={**FORMATS, "quality": ("standard", "hd"), "style": ("vivid", "natural")},
                sync=True,
            ),
            _model("dall-e-2", "DALL·E 2", sync=True),
            _model("flux-pro", "Flux Pro", sync=False),
            _model("flux-schnell", "Flux Schnell", sync=True),
            _model("midjourney", "Midjourney", sync=False),
            _model("ideogram-v3", "Ideogram v3", sync=False),
            _model("stable-diffusion-3", "Stable Diffusion 3", sync=True),
            # Source: docs.lemondata.cc create-image and get-image-status. It takes async, so
            # the reply may be a task (status pending, task_id or poll_url): not sync. Free
            # sizes as WIDTHxHEIGHT follow the gpt-image-2 rule (docs.aiandgpu.com).
            ModelSpec(
                "gpt-image-2",
                "GPT Image 2",
                sizes=("1024x1024", "1536x1024", "1024x1536", "auto"),
                default_size="auto",
                n_max=4,
                choices={**FORMATS, **GPT_IMAGE_CHOICES},
                sync=False,
                size_rule=GPT_IMAGE_2_SIZES,
            ),
        ),
    )

    def validate(self, req: GenerationRequest) -> dict[str, str]:
        # `async` is LemonData's own switch (docs.lemondata.cc create-image), on any model.
        params = dict(req.params)
        wanted = params.pop("async", None)
        errors = super().validate(replace(req, params=params))
        if wanted is not None and not isinstance(wanted, bool):
            errors["async"] = "“async” is true or false."
        return errors

    def send(self, call: Call, req: GenerationRequest) -> Accepted | Finished | Failed:
        body = image_api_body(req)
        if req.model in ASYNC_BY_DEFAULT:
            body.setdefault("async", True)
        reply = call.request(
            "POST", "/v1/images/generations", json=body, read_timeout=self.sync_timeout(call)
        )
        # Sync models answer with images; async ones with any of `status: pending`, `task_id`,
        # `id` or `poll_url`, and placeholder data `[{"url": ""}]`.
        return accepted(self, call, read_task(self, call, reply), reply)

    def fetch(
        self, call: Call, remote_id: str, poll_url: str | None
    ) -> Running | Finished | Failed:
        reply = call.request("GET", self._poll_path(call, remote_id, poll_url))
        return read_task(self, call, reply, remote_id)

    def _poll_path(self, call: Call, remote_id: str, poll_url: str | None) -> str:
        """The reply's poll_url as given; an absolute one only if it stays on the vendor's host.

        The key goes with every poll, so a poll_url on another host must not be followed.
        """
        if poll_url and poll_url.startswith("/"):
            return poll_url
        if poll_url and call.conn.base_url and same_origin(poll_url, call.conn.base_url):
            return poll_url
        return f"/v1/images/generations/{quote(remote_id, safe='')}"

    def check_key(self, call: Call) -> Verification:
        # Polling a task that cannot exist tells a bad key (401) from a good one (404).
        try:
            call.request("GET", "/v1/images/generations/studio-key-check")
        except VendorFailure as failure:
            if failure.error.code != "not_found":
                raise
        if not call.conn.extra_secret:
            return Verification(
                "valid",
                _("%(vendor)s accepted the key. Add a management token to see the balance.")
                % {"vendor": self.label},
            )
        try:
            reply = call.request("GET", "/v1/management/balance", token=call.conn.extra_secret)
        except VendorFailure as failure:
            return Verification(
                "valid",
                f"{self.label} accepted the key, but not the management token: "
                f"{failure.error.message}",
            )
        data = reply.get("data") if isinstance(reply.get("data"), dict) else reply
        balance = to_decimal(data.get("balance"))
        # The balance is documented in USD, and the reply carries no currency field.
        return balance_verification(self.label, balance, data.get("currency") or "USD")
