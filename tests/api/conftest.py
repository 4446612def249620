from __future__ import annotations

import pytest
from django.core.management import call_command

from studio.api import services


@pytest.fixture(autouse=True)
def api_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STUDIO_POLL_SCALE = 0.05
    settings.STUDIO_VENDOR_URLS = {}


def token_for(user, scope: str = "generate") -> str:
    """A token made by the management command, as a script would."""
    from io import StringIO

    out = StringIO()
    call_command("create_api_token", user.username, "--scope", scope, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def alice_token(alice) -> str:
    return token_for(alice)


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


__all__ = ["bearer", "services", "token_for"]
