"""The offline demo vendor: no key, no network, a Pillow gradient ~2 s after submit.

Stateless on purpose: the remote id carries everything a poll needs (creation time, size, n,
a prompt hash and the start of the prompt), so any worker process can answer any poll.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import textwrap
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

from PIL import Image, ImageDraw, ImageFont, ImageOps

from studio.vendors.base import (
    Accepted,
    Adapter,
    Call,
    Capabilities,
    ErrorCode,
    Failed,
    Finished,
    GenerationRequest,
    ImageSource,
    ModelSpec,
    Running,
    Spend,
    VendorError,
    Verification,
)
from studio.vendors.i18n import gettext as _

PREFIX = "demo-"
FAIL_MARK = "[fail]"  # lets a demo show what a refused generation looks like


def render_png(width: int, height: int, text: str, seed: str) -> bytes:
    """A gradient coloured from a hash of `seed`, with `text` drawn on it."""
    digest = hashlib.sha256(seed.encode()).digest()
    top, bottom = tuple(digest[0:3]), tuple(digest[3:6])
    gradient = Image.linear_gradient("L").resize((width, height))
    image = ImageOps.colorize(gradient, top, bottom)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(image)
    # Large enough to read on a gallery thumbnail.
    size = max(12, width // 14)
    font = ImageFont.load_default(size=size)
    lines = textwrap.wrap(text, width=max(8, int(width / size * 1.6)))[:8]
    draw.multiline_text(
        (size, size),
        "\n".join(lines),
        font=font,
        fill="white",
        stroke_width=max(1, size // 10),
        stroke_fill="black",
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class Demo(Adapter):
    id = "demo"
    label = "Demo (offline, free)"
    default_base_url = None
    poll_interval = 1.0
    poll_backoff = 1.0
    poll_max = 1.0
    capabilities = Capabilities(
        scenes=("text-to-image",),
        models=(
            ModelSpec(
                "demo",
                "Demo painter",
                sizes=("512x512", "768x512", "512x768"),
                default_size="512x512",
                n_max=4,
            ),
        ),
        prompt_max=2000,
    )

    def __init__(
        self,
        extra_models: Iterable[ModelSpec | dict] = (),
        *,
        render_after: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(extra_models)
        self.render_after = render_after
        self.clock = clock

    def send(self, call: Call, req: GenerationRequest) -> Accepted:
        job = {
            "t": math.floor(self.clock() * 1000) / 1000,
            "s": req.params.get("size", self.spec(req).default_size),
            "n": req.params.get("n", 1),
            "h": hashlib.sha256(req.prompt.encode()).hexdigest()[:12],
            "p": req.prompt[:40],
            "f": FAIL_MARK in req.prompt,
        }
        packed = json.dumps(job, separators=(",", ":"), ensure_ascii=False).encode()
        remote_id = PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("=")
        return Accepted(remote_id, None, self.poll_interval, Spend(credits_used=Decimal(0)), job)

    def fetch(
        self, call: Call, remote_id: str, poll_url: str | None
    ) -> Running | Finished | Failed:
        try:
            packed = remote_id.removeprefix(PREFIX)
            job = json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
            width, height = (int(x) for x in job["s"].split("x"))
        except (ValueError, KeyError, TypeError, AttributeError):
            return Failed(VendorError(ErrorCode.NOT_FOUND, "The demo vendor has no such task."))
        elapsed = max(0.0, self.clock() - job["t"])
        if elapsed < self.render_after:
            progress = int(100 * elapsed / self.render_after)
            return Running("processing", progress, self.poll_interval, {"progress": progress})
        if job["f"]:
            error = VendorError(ErrorCode.CONTENT_POLICY, "The demo vendor refused this prompt.")
            return Failed(error, None, {"status": "failed"})
        images = [
            ImageSource(
                data=render_png(width, height, job["p"], f"{job['h']}:{i}"),
                content_type="image/png",
                width=width,
                height=height,
            )
            for i in range(job["n"])
        ]
        raw = {"status": "completed", "images": len(images)}
        return Finished(images, Spend(credits_used=Decimal(0), images=len(images)), raw, remote_id)

    def check_key(self, call: Call) -> Verification:
        return Verification("valid", _("The demo vendor needs no key."))
