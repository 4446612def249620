"""The stylesheet's colours pass WCAG AA in both themes (the figures are in docs/decisions.md)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

CSS = (settings.BASE_DIR / "static" / "css" / "studio.css").read_text()
TEXT = 4.5  # normal text
NON_TEXT = 3.0  # control boundaries and focus rings (WCAG 1.4.11)
PAIRS = [
    ("text", "bg", TEXT),
    ("text", "surface", TEXT),
    ("muted", "bg", TEXT),
    ("muted", "surface", TEXT),
    ("accent", "bg", TEXT),
    ("accent", "surface", TEXT),
    ("accent-text", "accent", TEXT),
    ("danger", "bg", TEXT),
    ("danger", "surface", TEXT),
    ("success", "bg", TEXT),
    ("success", "surface", TEXT),
    ("warning", "bg", TEXT),
    ("warning", "surface", TEXT),
    ("focus", "bg", NON_TEXT),
    ("focus", "surface", NON_TEXT),
    ("control-border", "bg", NON_TEXT),
    ("control-border", "surface", NON_TEXT),
]


def theme(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


LIGHT = theme(CSS.split("@media (prefers-color-scheme: dark)")[0])
DARK = {**LIGHT, **theme(CSS.split("@media (prefers-color-scheme: dark)")[1].split("}")[0])}


@pytest.mark.parametrize("colours", [LIGHT, DARK], ids=["light", "dark"])
@pytest.mark.parametrize(("foreground", "background", "minimum"), PAIRS)
def test_contrast(colours, foreground, background, minimum):
    ratio = contrast(colours[foreground], colours[background])
    assert ratio >= minimum, f"{foreground} on {background}: {ratio:.2f}"
