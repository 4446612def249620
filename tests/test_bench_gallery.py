"""The gallery benchmark's A/B of the credits page (benchmarks/gallery.py, credits_rollup): its
variants stand in for the page's spend_by_month, so they must keep its signature, or the
scenario stops with a TypeError in the middle of `make bench`."""

from __future__ import annotations

from decimal import Decimal

from accounts.vault import add_credential
from benchmarks import gallery
from studio.web import credits
from tests.web.test_credits import entry


def test_every_variant_of_the_credits_page_renders_it(alice, monkeypatch):
    # Spend priced in money: each variant's money totals have something to sum.
    key = add_credential(alice, "girlgenerator", "studio key", "sk-girl-0123456789")
    entry(alice, key, "2", money=Decimal("0.30"), currency="USD")
    monkeypatch.setattr(gallery, "REPEAT", 1)
    monkeypatch.setattr(gallery, "ROUNDS", 1)
    page_before = credits.spend_by_month

    figures = gallery.credits_rollup(alice)

    assert set(figures) == {"roll-up", "whole ledger", "no money totals"}
    assert all(found["ms"]["n"] == 1 for found in figures.values())
    assert credits.spend_by_month is page_before  # put back for the rest of the run
