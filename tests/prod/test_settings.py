"""Operator settings added for production: per-vendor poll timing and where files go."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from studio import settings as studio_settings
from studio.vendors import get_adapter


@pytest.mark.parametrize(
    "value, expected",
    [
        ('{"chatbp": 1}', {"chatbp": (1.0, 1.0, 1.0)}),
        ('{"lemondata": [2, 1.5, 10]}', {"lemondata": (2.0, 1.5, 10.0)}),
        ('{"lemondata": [2, 1.5]}', {"lemondata": (2.0, 1.5, 2.0)}),
    ],
)
def test_it_reads_per_vendor_poll_timing(monkeypatch, value, expected):
    monkeypatch.setenv("STUDIO_VENDOR_POLL", value)
    assert studio_settings.poll_timings("STUDIO_VENDOR_POLL") == expected


@pytest.mark.parametrize("value", ['{"chatbp": 0}', '{"chatbp": [1, 0.5]}', '{"chatbp": "x"}'])
def test_a_bad_poll_timing_names_the_setting(monkeypatch, value):
    monkeypatch.setenv("STUDIO_VENDOR_POLL", value)
    with pytest.raises(ImproperlyConfigured, match="STUDIO_VENDOR_POLL"):
        studio_settings.poll_timings("STUDIO_VENDOR_POLL")


def test_the_operators_poll_timing_replaces_the_adapters(settings):
    default = get_adapter("chatbp").poll_interval
    settings.STUDIO_VENDOR_POLL = {"chatbp": (1.0, 1.0, 1.0)}
    adapter = get_adapter("chatbp")
    assert (adapter.poll_interval, adapter.poll_backoff, adapter.poll_max) == (1.0, 1.0, 1.0)
    # The shared adapter is untouched; other vendors keep their own.
    settings.STUDIO_VENDOR_POLL = {}
    assert get_adapter("chatbp").poll_interval == default


def test_operator_models_are_checked_at_start_up(monkeypatch):
    entry = '{"aioagi": [{"name": "flux-2", "size_rule": {"multiple_of": 32, "max_edge": 2048}}]}'
    monkeypatch.setenv("STUDIO_VENDOR_MODELS", entry)
    assert studio_settings.vendor_models("STUDIO_VENDOR_MODELS")["aioagi"][0]["name"] == "flux-2"


@pytest.mark.parametrize(
    "value",
    [
        '{"aioagi": [{"name": "x", "size_rule": {"multiple": 16}}]}',
        '{"aioagi": [{"name": "x", "size_rule": {"max_aspect": 0}}]}',
        '{"aioagi": [{"label": "no name"}]}',
        '{"aioagi": {"name": "x"}}',
        '["aioagi"]',
    ],
)
def test_a_bad_operator_model_names_the_setting(monkeypatch, value):
    monkeypatch.setenv("STUDIO_VENDOR_MODELS", value)
    with pytest.raises(ImproperlyConfigured, match="STUDIO_VENDOR_MODELS"):
        studio_settings.vendor_models("STUDIO_VENDOR_MODELS")
