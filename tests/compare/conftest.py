from __future__ import annotations

import pytest

from accounts.vault import add_credential
from studio.compare import services
from tests.web.conftest import png  # noqa: F401  (used by the tests here)


@pytest.fixture(autouse=True)
def compare_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STUDIO_VENDOR_URLS = {"chatbp": "http://127.0.0.1:9"}
    settings.STUDIO_PUBLIC_URL = ""


@pytest.fixture
def keys(alice) -> dict:
    """One key per vendor for Alice."""
    return {
        vendor: add_credential(alice, vendor, f"{vendor} key", f"sk-{vendor}-0123456789abcdef")
        for vendor in ("girlgenerator", "aioagi", "lemondata", "chatfire")
    }


def target(owner, credential, model: str) -> str:
    """The form value of a target: `<key pk>:<model>`, or `demo:demo`."""
    value = f"{credential.pk if credential else 'demo'}:{model}"
    assert value in {t.value for t in services.targets_for(owner)}, value
    return value
