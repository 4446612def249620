"""The money page and the estimate on the generate and compare forms, without JavaScript."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from accounts.models import CredentialEvent
from accounts.vault import add_credential
from studio.engine.services import create_generation
from studio.money import services
from studio.money.models import Budget, BudgetEvent, KeyShare, Price
from tests.sharing.conftest import client_for


def test_it_sets_and_removes_a_budget_with_an_audit_trail(alice_client, alice, key):
    r = alice_client.post(
        "/money/budgets/",
        {
            "scope": "own",
            "credential": key.pk,
            "measure": "money",
            "limit": "5",
            "currency": "usd",
            "period": "days",
            "period_days": "14",
            "starts_on": "2026-12-01",
        },
    )
    assert r.status_code == 302
    budget = Budget.objects.get()
    assert (budget.currency, budget.period_days, budget.owner) == ("USD", 14, alice)
    page = alice_client.get("/money/").content.decode()
    assert "Your own limit on “studio key” ($5.00 every 14 days)" in page
    assert "A job must fit every budget that covers it" in page
    alice_client.post(f"/money/budgets/{budget.pk}/delete/")
    assert not Budget.objects.exists()
    log = list(BudgetEvent.objects.values_list("message", flat=True))
    assert log[0].startswith("alice removed: ") and log[1].startswith("alice set: ")
    assert CredentialEvent.objects.filter(credential=key, kind="budget").count() == 2


def test_a_bad_budget_comes_back_with_what_is_wrong(alice_client, key):
    r = alice_client.post(
        "/money/budgets/",
        {
            "scope": "member",
            "measure": "money",
            "limit": "-1",
            "currency": "dollars",
            "period": "days",
        },
    )
    assert r.status_code == 200
    errors = r.context["budget_form"].errors
    assert set(errors) == {"credential", "limit", "currency", "period_days", "starts_on"}
    assert not Budget.objects.exists()


def test_only_a_team_owner_shares_and_only_the_key_owner_stops(alice, bob, key, team):
    bob_key = add_credential(bob, "girlgenerator", "bob key", "sk-money-bob-0123456789")
    r = client_for(bob).post("/money/shares/", {"credential": bob_key.pk, "team": team.pk})
    assert r.status_code == 200 and "team" in r.context["share_form"].errors  # bob is no owner
    r = client_for(alice).post("/money/shares/", {"credential": key.pk, "team": team.pk})
    share = KeyShare.objects.get()
    assert client_for(bob).post(f"/money/shares/{share.pk}/stop/").status_code == 404
    page = client_for(bob).get("/money/").content.decode()
    assert "studio key" in page and "team key of alice" in page and key.last4 not in page
    client_for(alice).post(f"/money/shares/{share.pk}/stop/")
    share.refresh_from_db()
    assert share.stopped_at is not None


def test_own_prices_are_per_key_and_the_estimate_uses_them(alice_client, alice, key):
    r = alice_client.post(
        "/money/prices/",
        {
            "credential": key.pk,
            "per": "images",
            "amount": "0.21",
            "currency": "CNY",
            "valid_from": "2026-11-01",
            "source": "my reseller sheet",
        },
    )
    assert r.status_code == 302
    price = Price.objects.get()
    assert (price.vendor, price.credential, price.amount) == ("girlgenerator", key, Decimal("0.21"))
    r = alice_client.get("/", {"key": key.pk})
    assert "about ¥0.21: 1 image × ¥0.21, your price of 2026-11-01" in r.content.decode()
    r = alice_client.get("/", {"key": "demo"})
    assert "Free: the demo sends nothing to a vendor." in r.content.decode()


def test_each_compare_target_shows_its_estimate(alice_client, alice, key):
    Price.objects.create(
        vendor="girlgenerator",
        per="images",
        amount=Decimal("0.3"),
        currency="USD",
        valid_from=date(2026, 1, 1),
        source="test",
    )
    r = alice_client.post(
        "/compare/new/",
        {
            "prompt": "two",
            "target_0": "demo:demo",
            "target_1": f"{key.pk}:default",
            "aspect_ratio": "1:1",
            "preview": "1",
        },
    )
    content = r.content.decode()
    assert "about $0.30: 1 image × $0.30, GirlGeneratorAI price of 2026-01-01" in content
    assert "Free: the demo sends nothing to a vendor." in content


def test_it_speaks_chinese(alice_client, alice, key):
    services.set_budget(
        Budget(scope="own", credential=key, measure="images", limit=Decimal(1)), alice
    )
    r = alice_client.get("/money/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    content = r.content.decode()
    assert "费用与预算" in content and "任务必须符合覆盖它的每一个预算" in content
    assert "您对 “studio key” 设置的个人限额（每个自然月 1 张图片）" in content
    job = {"vendor": "girlgenerator", "credential": key, "model": "default", "prompt": "one"}
    with translation.override("zh-hans"):
        create_generation(alice, **job)
        with pytest.raises(ValidationError) as refused:
            create_generation(alice, **job)
    assert "被预算拒绝" in refused.value.messages[0] and "0 张图片" in refused.value.messages[0]


def test_the_generate_form_warns_at_80_percent(alice_client, alice, key):
    services.set_budget(
        Budget(scope="own", credential=key, measure="images", limit=Decimal(5)), alice
    )
    job = {"vendor": "girlgenerator", "credential": key, "model": "default", "prompt": "p"}
    for _ in range(3):
        create_generation(alice, **job)
    assert "percent used" not in alice_client.get("/", {"key": key.pk}).content.decode()
    create_generation(alice, **job)
    page = alice_client.get("/", {"key": key.pk}).content.decode()
    assert "Your own limit on “studio key” (5 images a calendar month) is 80 percent used: " in page
    assert "1 image left until" in page


def test_a_limit_in_vendor_units_is_refused_when_it_cannot_be_counted(alice_client, alice, key):
    """Credits or tokens: only for one key whose vendor documents the most an image takes."""
    tokens_key = add_credential(alice, "aioagi", "tokens key", "sk-aioagi-0099887766")
    base = {"scope": "own", "limit": "100", "period": "month", "starts_on": "2026-12-01"}
    r = alice_client.post(
        "/money/budgets/", {**base, "measure": "tokens", "credential": tokens_key.pk}
    )
    assert r.status_code == 200
    assert r.context["budget_form"].errors["measure"] == [
        "AIOAGI does not document how many tokens an image takes, so a job could "
        "not be counted against this limit before it is sent. Set it in money or in images."
    ]
    r = alice_client.post("/money/budgets/", {**base, "measure": "credits"})
    assert r.context["budget_form"].errors["measure"] == [
        "A limit in vendor units is for one key: choose it. Vendors' units differ."
    ]
    assert not Budget.objects.exists()
    r = alice_client.post("/money/budgets/", {**base, "measure": "credits", "credential": key.pk})
    assert r.status_code == 302
    assert Budget.objects.get().measure == "credits"
    page = alice_client.get("/money/").content.decode()
    assert "a limit in tokens is refused when you set it" in page


def test_a_compare_target_priced_per_credit_shows_the_most_it_may_cost(alice_client, key):
    Price.objects.create(
        vendor="girlgenerator",
        per="credits",
        amount=Decimal("0.05"),
        currency="CNY",
        valid_from=date(2026, 1, 1),
    )
    r = alice_client.post(
        "/compare/new/",
        {
            "prompt": "two",
            "target_0": "demo:demo",
            "target_1": f"{key.pk}:default",
            "aspect_ratio": "1:1",
            "preview": "1",
        },
    )
    assert (
        "at most ¥0.15: 1 image × 3 credits at most × ¥0.05, GirlGeneratorAI price of "
        "2026-01-01 (the vendor documents 1 to 3 credits an image)"
    ) in r.content.decode()
