"""How the engine talks to a vendor: the shared HTTP client, the key's connection (decrypted at
the moment of the call), and which rate budget a request draws from. Used by jobs, the poller
and the ledger's balance reads."""

from __future__ import annotations

import httpx
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from accounts.vault import decrypt_credential
from studio.engine import ratelimit, safehttp
from studio.models import Generation
from studio.vendors import base_url_for
from studio.vendors.base import Connection


def vendor_client() -> httpx.Client:
    # trust_env=False: an inherited proxy variable must not silently carry keys elsewhere.
    # The request hook re-reads the key's 429 block just before each request is sent.
    return httpx.Client(
        trust_env=False,
        timeout=httpx.Timeout(30, connect=10),
        verify=safehttp.tls_context(),
        event_hooks={"request": [ratelimit.check_before_send]},
    )


def bucket_for(generation: Generation) -> str:
    return generation.rate_bucket


def vendor_options(vendor: str) -> dict:
    return settings.STUDIO_VENDOR_OPTIONS.get(vendor, {})


@sensitive_variables("secrets")
def connection_for(generation: Generation, client: httpx.Client) -> Connection:
    """Decrypts the key here, at the moment of the vendor call, and nowhere earlier."""
    options = vendor_options(generation.vendor)
    if generation.credential is None:
        return Connection(base_url=None, api_key="", client=client, options=options)
    secrets = decrypt_credential(generation.credential)
    return Connection(
        base_url=base_url_for(generation.vendor, generation.credential.mirror or None),
        api_key=secrets.api_key,
        extra_secret=secrets.extra_secret,
        client=client,
        options=options,
        max_image_bytes=settings.STUDIO_MAX_DOWNLOAD_BYTES,
    )


def rate_limit_of(adapter) -> tuple[int | None, float]:
    override = settings.STUDIO_VENDOR_RATE_LIMITS.get(adapter.id)
    if override:
        return int(override[0]), float(override[1])
    return adapter.rate_limit or (None, 60.0)
