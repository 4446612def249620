"""Fake AIOAGI: synchronous GPT-Image generations and multipart edits, new-api billing."""

from __future__ import annotations

from typing import Any

from studio.vendors.fakes.core import (
    RelayFake,
    Reply,
    Request,
    Route,
    gpt_image_2_size_ok,
    size_of,
)

SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
CHOICES = {
    "quality": ("low", "medium", "high", "auto"),
    "background": ("transparent", "opaque", "auto"),
    "output_format": ("png", "jpeg", "webp"),
    "moderation": ("auto", "low"),
    "input_fidelity": ("high", "low"),
}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class AioagiFake(RelayFake):
    vendor = "aioagi"
    models = ("gpt-image-2", "gpt-image-2-4k", "gpt-image-1")
    # What api.aiearth.dev's /v1/models says of its GPT-Image models (a public gpt_academic-based
    # project's tests): "openai" only, so only the id tells they are image models.
    image_endpoint_types = ("openai",)

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/v1/images/generations", "generations", "submit"),
            Route("POST", r"/v1/images/edits", "edits", "submit"),
            *self.relay_routes(),
        ]

    def check(self, params: dict[str, Any]) -> Reply | None:
        prompt = params.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return self.invalid("prompt", "is required")
        model, size = params.get("model", "gpt-image-2"), params.get("size", "auto")
        if not self.offers(model):
            return self.invalid("model", "no available channel for this model")
        free = model.startswith("gpt-image-2") and gpt_image_2_size_ok(size)
        if size not in SIZES and not free:
            return self.invalid("size", f"must be one of {', '.join(SIZES)} or a valid WxH")
        for name, options in CHOICES.items():
            if name in params and params[name] not in options:
                return self.invalid(name, f"must be one of {', '.join(options)}")
        n = _int(params.get("n", 1))
        if n is None or not 1 <= n <= 10:
            return self.invalid("n", "must be between 1 and 10")
        if "output_compression" in params:
            level = _int(params["output_compression"])
            if params.get("output_format") not in ("jpeg", "webp"):
                return self.invalid("output_compression", "only for jpeg or webp output")
            if level is None or not 0 <= level <= 100:
                return self.invalid("output_compression", "must be between 0 and 100")
        return None

    def generations(self, req: Request) -> Reply:
        params = req.json if isinstance(req.json, dict) else {}
        return self.check(params) or self._generate(req, params, b64=False)

    def edits(self, req: Request) -> Reply:
        # GPT-Image models in practice answer edits with base64.
        problem = self.edit_files(req, max_images=16) or self.check(req.form)
        return problem or self._generate(req, req.form, b64=True)

    def _generate(self, req: Request, params: dict[str, Any], b64: bool) -> Reply:
        n = _int(params.get("n", 1)) or 1
        if not self.charge(req, self.price * n):
            return self.insufficient()
        prompt = params["prompt"]
        fmt = params.get("output_format", "png")
        usage = {
            "input_tokens": len(prompt) // 4 + 1,
            "output_tokens": 1056 * n,
            "total_tokens": len(prompt) // 4 + 1 + 1056 * n,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": len(prompt) // 4 + 1},
        }
        return self.sync_images(
            req,
            n,
            size_of(params.get("size")),
            prompt,
            b64,
            background=params.get("background", "opaque"),
            output_format=fmt,
            quality=params.get("quality", "auto"),
            size=params.get("size", "1024x1024"),
            usage=usage,
        )
