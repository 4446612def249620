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


def test_one_set_of_price_checks_for_the_admin_and_the_users_form(alice_client, key):
    """Price.clean() holds the checks: the operator's admin and a user's own price form give
    the same answers to the same bad values."""
    bad = {"per": "images", "amount": "-1", "currency": "¥1", "valid_from": "2026-11-01"}
    r = staff().post("/admin/money/price/add/", {**bad, "vendor": "nowhere"})
    assert r.status_code == 200
    errors = r.context["adminform"].form.errors
    assert set(errors) >= {"currency", "amount", "vendor"}
    r = alice_client.post("/money/prices/", {**bad, "credential": key.pk})
    assert r.status_code == 200
    form = r.context["price_form"]
    assert form.errors["currency"] == ["Three letters, as in ISO 4217: CNY, USD, EUR."]
    assert form.errors["currency"] == errors["currency"]
    assert "A price cannot be negative." in form.errors["amount"]
    assert not Price.objects.exists()
    # Lower case is taken and kept upper case, in both.
    ok = {**bad, "amount": "0.5", "currency": " cny "}
    assert alice_client.post("/money/prices/", {**ok, "credential": key.pk}).status_code == 302
    assert staff_post_ok({**ok, "vendor": "lemondata"})
    assert sorted(Price.objects.values_list("vendor", "currency")) == [
        ("girlgenerator", "CNY"),
        ("lemondata", "CNY"),
    ]


def staff_post_ok(data: dict) -> bool:
    client = Client()
    client.force_login(User.objects.get(username="root"))
    return client.post("/admin/money/price/add/", data).status_code == 302
