from __future__ import annotations

import subprocess
import sys

import pytest

from studio.vendors import ADAPTERS, base_url_for, get_adapter
from studio.vendors.base import Adapter, GenerationRequest
from tests.vendors.conftest import ROOT


def test_the_registry(vendor_settings) -> None:
    assert list(ADAPTERS) == ["girlgenerator", "aioagi", "lemondata", "chatbp", "chatfire", "demo"]
    assert all(isinstance(a, Adapter) and a.id == key for key, a in ADAPTERS.items())
    assert get_adapter("demo").label == "Demo (offline, free)"
    with pytest.raises(KeyError):
        get_adapter("dalle")


def test_default_base_urls(vendor_settings) -> None:
    assert base_url_for("girlgenerator") == "https://girlgenerator.app"
    assert base_url_for("lemondata") == "https://api.lemondata.cc"
    assert base_url_for("chatfire") == "https://api.chatfire.site"
    assert base_url_for("chatbp") is None  # the operator must set it
    assert base_url_for("demo") is None
    with pytest.raises(ValueError, match="mirror"):
        base_url_for("lemondata", "aiearth.vip")


def test_the_operator_overrides_urls_even_over_a_mirror(vendor_settings) -> None:
    vendor_settings.STUDIO_VENDOR_URLS = {
        "aioagi": "http://127.0.0.1:9002/",
        "chatbp": "https://bp.example",
    }

    assert base_url_for("aioagi", "aiearth.vip") == "http://127.0.0.1:9002"
    assert base_url_for("chatbp") == "https://bp.example"
    assert base_url_for("lemondata") == "https://api.lemondata.cc"


def test_the_operator_adds_models(vendor_settings) -> None:
    vendor_settings.STUDIO_VENDOR_MODELS = {
        "aioagi": [
            {
                "name": "banana-2",
                "label": "Banana",
                "sizes": ["1024x1024"],
                "n_max": 2,
                "sync": True,
            }
        ],
        "chatfire": [{"name": "seedream-3.0", "sizes": ["2048x2048"], "scenes": ["text-to-image"]}],
    }

    aioagi, chatfire = get_adapter("aioagi"), get_adapter("chatfire")

    assert [m.name for m in aioagi.capabilities.models] == [
        "gpt-image-2",
        "gpt-image-2-4k",
        "banana-2",
    ]
    assert aioagi.validate(GenerationRequest("text-to-image", "banana-2", "x", {"n": 2})) == {}
    assert "size" in aioagi.validate(
        GenerationRequest("text-to-image", "banana-2", "x", {"size": "1536x1024"})
    )
    assert chatfire.capabilities.model("seedream-3.0").sizes == ("2048x2048",)
    assert ADAPTERS["aioagi"].capabilities.model("banana-2") is None  # built-ins untouched
    vendor_settings.STUDIO_VENDOR_MODELS = {"aioagi": [{"name": "x", "size": "typo"}]}
    with pytest.raises(ValueError, match="unknown keys"):
        get_adapter("aioagi")


def test_importing_adapters_and_fakes_does_not_import_django() -> None:
    code = "import sys, studio.vendors, studio.vendors.fakes; print('django' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )

    assert out.stdout.strip() == "False"
