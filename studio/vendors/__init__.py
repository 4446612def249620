"""The vendor registry: which adapters exist, their base URLs and operator-added models."""

from __future__ import annotations

import os
from typing import Any

from studio.vendors import catalogue
from studio.vendors.aioagi import Aioagi
from studio.vendors.base import Adapter
from studio.vendors.chatbp import ChatBp
from studio.vendors.chatfire import ChatFire
from studio.vendors.demo import Demo
from studio.vendors.girlgenerator import GirlGenerator
from studio.vendors.lemondata import LemonData

ADAPTERS: dict[str, Adapter] = {
    adapter.id: adapter
    for adapter in (GirlGenerator(), Aioagi(), LemonData(), ChatBp(), ChatFire(), Demo())
}


def _setting(name: str) -> dict[str, Any]:
    # Read lazily so that adapters, fakes and their tests run without Django.
    try:
        from django.conf import settings
    except ImportError:
        return {}
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return {}
    return getattr(settings, name, None) or {}


def discovery_enabled() -> bool:
    """STUDIO_DISCOVER_MODELS: offer the image models a key's vendor lists (off by default)."""
    return bool(_setting("STUDIO_DISCOVER_MODELS"))


def get_adapter(vendor_id: str, credential: Any = None) -> Adapter:
    """The adapter for `vendor_id`, with the operator's extra models from STUDIO_VENDOR_MODELS,
    poll timing from STUDIO_VENDOR_POLL and, given the key a job uses and with discovery on,
    the models that key's vendor listed (`credential.discovered_models`)."""
    adapter = ADAPTERS[vendor_id]
    extra = _setting("STUDIO_VENDOR_MODELS").get(vendor_id)
    timing = _setting("STUDIO_VENDOR_POLL").get(vendor_id)
    listed = getattr(credential, "discovered_models", None) if discovery_enabled() else None
    listed = [m for m in listed if isinstance(m, str)] if isinstance(listed, list) else None
    if not extra and not timing and not listed:
        return adapter
    adapter = type(adapter)(extra_models=extra or ())
    if listed:
        adapter.capabilities = catalogue.with_discovered(adapter, listed)
    if timing:
        # [first wait, backoff factor, longest wait] in seconds, checked by settings.py.
        adapter.poll_interval, adapter.poll_backoff, adapter.poll_max = timing
    return adapter


def base_url_for(vendor_id: str, mirror: str | None = None) -> str | None:
    """STUDIO_VENDOR_URLS wins (the operator decides where keys go), then a mirror, then the
    vendor's default. None means the operator must configure one (chatbp) or none is needed."""
    adapter = ADAPTERS[vendor_id]
    override = _setting("STUDIO_VENDOR_URLS").get(vendor_id)
    if override:
        return override.rstrip("/")
    if mirror:
        if mirror not in adapter.mirrors:
            raise ValueError(f"{vendor_id} has no mirror called {mirror!r}")
        return adapter.mirrors[mirror]
    return adapter.default_base_url
