"""Operators edit the price book in the admin; budgets and shares are view-only there."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.test import Client

from studio.money import services
from studio.money.models import Budget, Price


def staff() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 20))
    return client


def test_staff_add_a_dated_price_with_its_source(alice, key):
    Price.objects.create(
        vendor="girlgenerator",
        per="credits",
        amount=1,
        currency="CNY",
        valid_from="2026-01-01",
        credential=key,
        source="alice's own",
    )
    admin = staff()
    r = admin.post(
        "/admin/money/price/add/",
        {
            "vendor": "lemondata",
            "model": "flux-pro",
            "size": "",
            "quality": "",
            "per": "images",
            "amount": "0.21",
            "currency": "CNY",
            "valid_from": "2026-11-01",
            "source": "https://lemondata.cc/pricing (read 2026-11-01)",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    price = Price.objects.get(vendor="lemondata")
    assert (price.amount, price.credential) == (Decimal("0.21"), None)
    listing = admin.get("/admin/money/price/").content.decode()
    assert (
        "flux-pro" in listing and "alice&#x27;s own" not in listing and "alice's own" not in listing
    )


def test_budgets_and_shares_are_view_only(alice, key, team, shared):
    services.set_budget(Budget(scope="key", credential=key, measure="images", limit=2), alice)
    admin = staff()
    assert admin.get("/admin/money/budget/").status_code == 200
    assert admin.get("/admin/money/budget/add/").status_code == 403
    r = admin.get("/admin/money/keyshare/")
    assert r.status_code == 200 and "Studio A" in r.content.decode()
    assert admin.get("/admin/money/keyshare/add/").status_code == 403
