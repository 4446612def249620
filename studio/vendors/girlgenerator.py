"""GirlGeneratorAI: async tasks, credits reported on submit, 10 requests a minute per key."""

from __future__ import annotations

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
    Spend,
    VendorFailure,
    Verification,
    to_decimal,
)
from studio.vendors.i18n import gettext as _
from studio.vendors.openai_style import read_task

ASPECT_RATIOS = ("auto", "1:1", "3:2", "2:3", "9:16", "16:9", "3:4", "4:3")


class GirlGenerator(Adapter):
    id = "girlgenerator"
    label = "GirlGeneratorAI"
    default_base_url = "https://girlgenerator.app"
    rate_limit = (10, 60.0)
    # Polls count against 10 requests a minute, so poll slowly (their sample's 5 s breaks it).
    poll_interval = 10.0
    poll_backoff = 1.5
    poll_max = 30.0
    # The docs give no time; their sample client polls every 5 s, so they expect tens of
    # seconds. The schedule's prior until the studio has its own history (engine/schedule.py).
    typical_seconds = (10.0, 40.0)
    capabilities = Capabilities(
        scenes=("text-to-image", "image-to-image"),
        models=(
            # Documented (vendor-docs/girlgenerator.txt): one model, chosen by the vendor.
            ModelSpec(
                name="default",
                label="GirlGeneratorAI",
                scenes=("text-to-image", "image-to-image"),
                size_param="aspect_ratio",
                sizes=ASPECT_RATIOS,
                default_size="auto",
                max_references=4,
            ),
        ),
        prompt_max=2000,
        reference_mode="url",
    )

    def send(self, call: Call, req: GenerationRequest) -> Accepted:
        body = {"scene": req.scene, "prompt": req.prompt}
        if "aspect_ratio" in req.params:
            body["aspect_ratio"] = req.params["aspect_ratio"]
        if req.scene == "image-to-image":
            body["image_input"] = [r.url for r in req.references]
        reply = call.request("POST", "/api/v1/generate", json=body)
        spend = Spend(
            credits_used=to_decimal(reply.get("credits_used")),
            credits_remaining=to_decimal(reply.get("credits_remaining")),
        )
        task_id = reply.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise ValueError("no task_id in the submit reply")
        return Accepted(task_id, None, self.poll_interval, spend, call.raw)

    def fetch(
        self, call: Call, remote_id: str, poll_url: str | None
    ) -> Running | Finished | Failed:
        reply = call.request("GET", f"/api/v1/tasks/{quote(remote_id, safe='')}")
        return read_task(self, call, reply, remote_id)

    def check_key(self, call: Call) -> Verification:
        # No balance endpoint: ask for a task that cannot exist. 404 means the key was accepted.
        try:
            call.request("GET", "/api/v1/tasks/studio-key-check")
        except VendorFailure as failure:
            if failure.error.code != "not_found":
                raise
        return Verification(
            "valid",
            _("%(vendor)s accepted the key. It reports the balance only after a generation.")
            % {"vendor": self.label},
        )
