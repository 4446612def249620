"""The price book: which price applies, money on ledger rows, and exact totals across a
price change."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.vault import add_credential
from studio.engine import ledger
from studio.models import CreditEntry
from studio.money import services
from studio.money.models import Price
from studio.vendors.base import Spend
from tests.sharing.conftest import client_for
from tests.web.conftest import make_job


def price(vendor="girlgenerator", per="credits", amount="0.10", on=date(2026, 11, 1), **kw):
    return Price.objects.create(
        vendor=vendor,
        per=per,
        amount=Decimal(amount),
        currency=kw.pop("currency", "CNY"),
        valid_from=on,
        **kw,
    )


def at(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def test_it_picks_the_key_price_then_the_most_specific_then_the_newest(alice, key):
    operator = price(amount="0.10")
    newer = price(amount="0.12", on=date(2026, 11, 15))
    model = price(amount="0.20", model="default", on=date(2026, 10, 1))
    own = price(amount="0.08", credential=key, on=date(2026, 11, 10))

    def pick(day, credential_id=None, model_name="default"):
        return services.price_for("girlgenerator", model_name, {}, "credits", day, credential_id)

    assert pick(date(2026, 11, 5), model_name="other") == operator
    assert pick(date(2026, 11, 20), model_name="other") == newer
    assert pick(date(2026, 11, 20)) == model  # a price for the model beats a newer general one
    assert pick(date(2026, 11, 20), key.pk) == own  # the key's own price beats them all
    assert pick(date(2026, 11, 5), key.pk) == model  # not yet valid on the 5th
    assert pick(date(2026, 9, 1)) is None  # before any price: not priced, never guessed
    assert (
        services.price_for("aioagi", "gpt-image-2", {}, "images", date(2026, 11, 20), None) is None
    )


def test_money_totals_are_exact_across_a_price_change(alice_client, alice, bob, key):
    price(amount="0.10")  # ¥0.10 a credit from 1 November
    price(amount="0.125", on=date(2026, 11, 15))  # ¥0.125 from the 15th
    tokens = add_credential(alice, "aioagi", "tokens key", "sk-aioagi-00112233445566")
    price(vendor="aioagi", per="tokens", amount="0.04", currency="USD", on=date(2026, 11, 1))
    rows = [
        (key, "credits", "3", date(2026, 11, 10)),  # 3 × 0.10 = 0.30
        (key, "credits", "1", date(2026, 11, 14)),  # 1 × 0.10 = 0.10
        (key, "credits", "7", date(2026, 11, 15)),  # 7 × 0.125 = 0.875
        (key, "credits", "2", date(2026, 12, 1)),  # 2 × 0.125 = 0.25
        (tokens, "tokens", "1500", date(2026, 11, 20)),  # 1.5 × 0.04 = 0.06
        (key, "credits", "5", date(2026, 10, 31)),  # before any price: not priced
    ]
    for credential, kind, amount, day in rows:
        job = make_job(alice, credential=credential, vendor=credential.vendor, model="default")
        entry = CreditEntry(
            owner=alice,
            credential=credential,
            generation=job,
            vendor=credential.vendor,
            model=job.model,
            kind=kind,
            amount=Decimal(amount),
            unit=kind,
            created_at=at(day),
        )
        services.price_entry(entry, job)
        entry.save()
    assert list(CreditEntry.objects.order_by("created_at").values_list("money", flat=True)) == [
        None,
        Decimal("0.3"),
        Decimal("0.1"),
        Decimal("0.875"),
        Decimal("0.06"),
        Decimal("0.25"),
    ]
    r = alice_client.get("/credits/")
    totals = r.context["totals"]
    by_vendor = {(t["vendor"], t["currency"]): t["total"] for t in totals["vendor"]}
    assert by_vendor == {
        ("girlgenerator", "CNY"): Decimal("1.525"),
        ("aioagi", "USD"): Decimal("0.06"),
    }
    by_month = {(t["month"].month, t["currency"]): t["total"] for t in totals["month"]}
    assert by_month == {
        (11, "CNY"): Decimal("1.275"),
        (11, "USD"): Decimal("0.06"),
        (12, "CNY"): Decimal("0.25"),
    }
    assert [(t["vendor"], t["model"], t["money"]) for t in totals["model"]] == [
        ("girlgenerator", "default", "¥1.525"),
        ("aioagi", "default", "$0.06"),
    ]
    assert {t["label"]: t["money"] for t in totals["key"]} == {
        "studio key": "¥1.525",
        "tokens key": "$0.06",
    }
    content = r.content.decode()
    assert "¥0.875" in content and "not priced" in content


def test_the_ledger_values_each_row_when_it_is_written(alice, key):
    price(amount="0.5", on=timezone.localdate())
    job = make_job(alice, credential=key, vendor="girlgenerator", model="default")
    ledger.record_spend(job, Spend(credits_used=Decimal(3), credits_remaining=Decimal(97)))
    entry = CreditEntry.objects.get(generation=job)
    assert (entry.money, entry.currency, entry.price.amount) == (
        Decimal("1.5"),
        "CNY",
        Decimal("0.5"),
    )
    # A later price does not change a row already written.
    Price.objects.update(amount=Decimal("9"))
    entry.refresh_from_db()
    assert entry.money == Decimal("1.5")


def test_estimates_say_how_they_are_made_or_that_there_is_no_price(alice, key):
    assert str(services.estimate("girlgenerator", "default", {}, key.pk)).startswith("Not priced")
    price(vendor="lemondata", per="images", amount="0.21", on=date(2026, 11, 1), model="m")
    guess = services.estimate("lemondata", "m", {"n": 4}, None, day=date(2026, 12, 1))
    assert guess.total == Decimal("0.84")
    assert str(guess) == "about ¥0.84: 4 images × ¥0.21, LemonData price of 2026-11-01"
    assert str(services.estimate("demo", "demo", {}, None)).startswith("Free")


def test_a_price_per_credit_estimates_the_documented_most_credits_an_image_takes(alice, key):
    """GirlGeneratorAI documents 1–3 credits an image: the estimate counts 3, and says so."""
    price(amount="0.01", on=date(2026, 11, 1))
    guess = services.estimate("girlgenerator", "default", {"n": 3}, key.pk, day=date(2026, 12, 1))
    assert (guess.total, guess.units_each) == (Decimal("0.09"), Decimal(3))
    assert str(guess) == (
        "at most ¥0.09: 3 images × 3 credits at most × ¥0.01, GirlGeneratorAI price of "
        "2026-11-01 (the vendor documents 1 to 3 credits an image)"
    )
    # A price per image, where there is one, comes first: it is exact.
    price(per="images", amount="0.02", on=date(2026, 11, 2))
    guess = services.estimate("girlgenerator", "default", {}, key.pk, day=date(2026, 12, 1))
    assert (guess.total, guess.units_each) == (Decimal("0.02"), None)


def test_a_price_in_units_no_one_documents_per_image_is_not_priced_and_says_why(alice):
    price(vendor="aioagi", per="tokens", amount="0.04", currency="USD")
    price(vendor="chatfire", per="credits", amount="0.01")
    tokens = services.estimate("aioagi", "gpt-image-2", {"n": 2}, None, day=date(2026, 12, 1))
    assert tokens.total is None
    assert str(tokens).startswith(
        "Not priced before it is sent: this vendor bills in tokens and does not document how "
        "many tokens an image takes."
    )
    credits = services.estimate("chatfire", "jimeng", {}, None, day=date(2026, 12, 1))
    assert credits.total is None and "bills in credits" in str(credits)
    # With nothing in the price book at all: the plain "not priced".
    assert str(services.estimate("chatbp", "x", {}, None)).startswith("Not priced: no price")


def months_ago(n: int) -> date:
    day = timezone.localdate().replace(day=1)
    for _ in range(n):
        day = (day - timedelta(days=1)).replace(day=1)
    return day


def spend(user, credential, amount: str, when: datetime) -> CreditEntry:
    job = make_job(user, credential=credential, vendor=credential.vendor, model="default")
    entry = CreditEntry(
        owner=user,
        credential=credential,
        generation=job,
        vendor=credential.vendor,
        model=job.model,
        kind="credits",
        amount=Decimal(amount),
        unit="credits",
        created_at=when,
    )
    services.price_entry(entry, job)
    entry.save()
    return entry


def test_the_monthly_rollup_gives_the_ledgers_exact_totals(alice_client, alice, bob, key, shared):
    """Months that are over come from the roll-up, the live month from the ledger: the same
    exact totals as summing every ledger row, across a price change, a member's spend on a
    team key, a second roll-up and a later price."""
    from studio.money.models import MonthlySpend, RolledMonth
    from studio.web.credits import (
        LedgerFilters,
        ledger_months,
        member_names,
        money_totals,
        priced,
        spend_keys,
        visible_entries,
    )

    def from_ledger_alone(entries):
        rows = priced(ledger_months(entries))
        names = member_names(alice, {r["owner_id"] for r in rows})
        return money_totals(alice, rows, spend_keys([key], rows), names)

    three, two, one = months_ago(3), months_ago(2), months_ago(1)
    price(amount="0.10", on=three)
    price(amount="0.125", on=two.replace(day=15))
    spend(alice, key, "3", at(three, 9))  # 0.30
    spend(alice, key, "1", at(two.replace(day=10)))  # 0.10
    spend(alice, key, "7", at(two.replace(day=20)))  # 0.875
    spend(bob, key, "4", at(one.replace(day=2)))  # 0.50, Bob on Alice's team key
    spend(alice, key, "2", timezone.now())  # 0.25, the live month
    r = alice_client.get("/credits/")
    totals = r.context["totals"]
    assert {t["month"]: t["total"] for t in totals["month"]} == {
        three: Decimal("0.3"),
        two: Decimal("0.975"),
        one: Decimal("0.5"),
        timezone.localdate().replace(day=1): Decimal("0.25"),
    }
    assert {t["label"]: t["money"] for t in totals["member"]} == {
        "alice": "¥1.525",
        "bob": "¥0.50",
    }
    assert [t["money"] for t in totals["vendor"]] == ["¥2.025"]
    # The closed months were rolled up, once; their figures are the ledger's own.
    assert set(RolledMonth.objects.values_list("month", flat=True)) >= {three, two, one}
    assert MonthlySpend.objects.filter(month=two).get().total == Decimal("0.975")
    assert from_ledger_alone(visible_entries(alice, [key])) == totals
    assert not services.roll_up_month(two)  # rolled already: nothing is counted twice
    # A later price changes no month, rolled or live.
    Price.objects.update(amount=Decimal("9"))
    assert alice_client.get("/credits/").context["totals"] == totals
    # Bob sees his own spend only: the roll-up keeps who spent it.
    bob_totals = client_for(bob).get("/credits/").context["totals"]
    assert [t["money"] for t in bob_totals["vendor"]] == ["¥0.50"]
    # A span of days is read from the ledger itself (it can cut a month in two).
    r = alice_client.get("/credits/", {"start": two.replace(day=15).isoformat()})
    assert [t["money"] for t in r.context["totals"]["vendor"]] == ["¥1.625"]
    # A key, vendor or kind filter reads the roll-up too, and still gives the ledger's figures.
    for data, spent in (
        ({"credential": str(key.pk)}, ["¥2.025"]),
        ({"vendor": key.vendor}, ["¥2.025"]),
        ({"kind": "images"}, []),  # every row here is credits
    ):
        filtered = LedgerFilters(data, [key]).apply(visible_entries(alice, [key]))
        expected = from_ledger_alone(filtered)
        totals = alice_client.get("/credits/", data).context["totals"]
        assert totals == expected and [t["money"] for t in totals["vendor"]] == spent, data


def test_each_keys_spend_counts_rolled_months_unpriced_rows_and_the_live_month(
    alice_client, alice, bob, key, shared
):
    """The spend per key comes from the roll-up for the months that are over (priced or
    not) and from the ledger for the live month: the ledger's own sum, counted once."""
    from studio.money.models import RolledMonth

    spend(alice, key, "3", at(months_ago(3), 9))  # before any price: no money
    price(amount="0.10", on=months_ago(2))
    spend(alice, key, "5", at(months_ago(2).replace(day=10)))
    spend(bob, key, "4", at(months_ago(1).replace(day=2)))  # Bob on Alice's team key
    spend(alice, key, "2", timezone.now())  # the live month
    for _load in range(2):  # the first load rolls the months up, the second reads them
        summaries = alice_client.get("/credits/").context["summaries"]
        assert [r["spent"] for r in summaries if r["credential"] == key] == [
            [{"unit": "credits", "total": Decimal("14")}]
        ]
    assert RolledMonth.objects.filter(month=months_ago(3)).exists()
    bobs = client_for(bob).get("/credits/").context["summaries"]
    assert [(r["credential"], r["spent"]) for r in bobs] == [
        (key, [{"unit": "credits", "total": Decimal("4")}])
    ]
