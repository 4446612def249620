"""Credits: balances per key, spend over time, the ledger, its filters and CSV export."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.formats import date_format

from accounts.vault import add_credential
from studio.models import CreditEntry
from tests.web.conftest import make_job


def entry(owner, credential=None, amount="2", unit="credits", days_ago=0, **fields):
    job = make_job(owner, "spent")
    vendor = credential.vendor if credential else "demo"
    return CreditEntry.objects.create(
        owner=owner,
        credential=credential,
        generation=job,
        vendor=vendor,
        kind=fields.pop("kind", "credits"),
        amount=Decimal(amount),
        unit=unit,
        created_at=timezone.now() - timedelta(days=days_ago),
        **fields,
    )


def test_it_shows_balances_spend_chart_and_ledger(alice_client, alice, bob):
    key = add_credential(alice, "girlgenerator", "studio key", "sk-girl-0123456789")
    key.balance, key.balance_unit, key.balance_at = Decimal("97.5"), "credits", timezone.now()
    key.save()
    entry(alice, key, "2", balance_after=Decimal("98"), days_ago=2)
    entry(alice, key, "1.5", balance_after=Decimal("97.5"))
    entry(alice, None, "1", unit="images", kind="images")
    # A unit no one else uses: a bare number could turn up in a timestamp's microseconds.
    entry(bob, None, "999", unit="bobcoins")
    r = alice_client.get("/credits/")
    content = r.content.decode()
    assert "97.5 credits" in content and "as of" in content
    assert "3.5 credits" in content  # spent with that key
    assert "<svg" in content and content.count('class="bar"') == 60  # 30 days × 2 units
    today = date_format(timezone.localdate(), "SHORT_DATE_FORMAT")
    assert f"<title>{today}: 1.5 credits</title>" in content
    assert f"<title>{today}: 1 image</title>" in content  # singular (issue 15)
    assert "credits: 3.5 in all" in content
    assert len(r.context["entries"]) == 3
    assert "bobcoins" not in content
    # Each row links to its own job and names its kind, in the reader's language.
    for row in r.context["entries"]:
        job = row.generation_id
        assert (
            f'<a href="/jobs/{job}/">#{job}</a></td>\n        <td>{row.kind.title()}</td>'
            in content
        )
    assert (
        "<td>图片</td>"
        in alice_client.get("/credits/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    )


def test_each_ledger_row_names_its_member_and_escapes_its_key(alice_client, alice, bob):
    """A teammate's spend on one's key shows under their name, one's own under one's own;
    the key's label is text."""
    key = add_credential(alice, "girlgenerator", "<b>team</b> key", "sk-girl-0123456789")
    entry(alice, key, "2", money=Decimal("0.3"), currency="CNY")
    entry(bob, key, "5", days_ago=1)
    rows = re.findall(
        r"<tr>\s*<td><time.*?</tr>", alice_client.get("/credits/").content.decode(), re.S
    )
    assert len(rows) == 2
    assert rows[0].endswith("<td>alice</td>\n      </tr>") and "¥0.30" in rows[0]
    assert rows[1].endswith("<td>bob</td>\n      </tr>") and "not priced" in rows[1]
    assert all("<td>&lt;b&gt;team&lt;/b&gt; key</td>" in row for row in rows)
    assert all("5 credits" in row for row in rows[1:])


def test_the_ledger_filters(alice_client, alice):
    one = add_credential(alice, "girlgenerator", "one", "sk-girl-0123456789")
    two = add_credential(alice, "aioagi", "two", "sk-aioagi-0123456789")
    old = entry(alice, one, days_ago=10)
    new = entry(alice, two, kind="tokens", unit="tokens")

    def only(**params):
        return [e.pk for e in alice_client.get("/credits/", params).context["entries"]]

    assert only(credential=one.pk) == [old.pk]
    assert only(vendor="aioagi") == [new.pk]
    assert only(kind="tokens") == [new.pk]
    assert only(start=(timezone.localdate() - timedelta(days=1)).isoformat()) == [new.pk]
    assert only(end=(timezone.localdate() - timedelta(days=5)).isoformat()) == [old.pk]


def test_csv_export_follows_the_filters_and_defuses_formulas(alice_client, alice, bob):
    key = add_credential(alice, "girlgenerator", "=HYPERLINK(1)", "sk-girl-0123456789")
    e = entry(alice, key, "3", balance_after=Decimal("100"))
    entry(alice, None, "1", unit="images", kind="images")
    entry(bob, None, "999")
    r = alice_client.get("/credits/export.csv", {"vendor": "girlgenerator"})
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert r["Content-Disposition"] == 'attachment; filename="studio-credits.csv"'
    lines = b"".join(r.streaming_content).decode().splitlines()
    assert lines[0] == (
        "time,vendor,key,job,kind,amount,unit,balance_after,money,currency,price_of,member"
    )
    assert len(lines) == 2
    assert lines[1].endswith(
        f",girlgenerator,'=HYPERLINK(1) …6789,{e.generation_id},credits,3,credits,100,,,,alice"
    )


def test_it_needs_sign_in(client):
    assert client.get("/credits/").status_code == 302
    assert client.get("/credits/export.csv").status_code == 302


def test_the_ledger_pages_newest_first_and_keeps_its_filters(alice_client, alice, monkeypatch):
    from studio.web import credits

    monkeypatch.setattr(credits, "PAGE_SIZE", 2)
    key = add_credential(alice, "girlgenerator", "one", "sk-girl-0123456789")
    kept = [entry(alice, key, days_ago=days) for days in (1, 2, 3, 4, 5)]
    entry(alice, None, "1", unit="images", kind="images")  # filtered out below
    seen, query = [], "vendor=girlgenerator"
    while query is not None and len(seen) < 5:  # a paging bug must not loop forever
        r = alice_client.get(f"/credits/?{query}")
        seen.append([e.pk for e in r.context["entries"]])
        query = r.context["next_query"] or None
        assert query is None or "vendor=girlgenerator" in query
    assert seen == [[kept[0].pk, kept[1].pk], [kept[2].pk, kept[3].pk], [kept[4].pk]]


def test_a_balance_of_one_is_singular_in_both_languages(alice_client, alice):
    key = add_credential(alice, "girlgenerator", "main", "sk-girl-0123456789abcdef")
    key.balance, key.balance_unit, key.balance_at = Decimal("1"), "credits", timezone.now()
    key.save()
    content = alice_client.get("/credits/").content.decode()
    assert "1 credit\n" in content and "1 credits" not in content
    content = alice_client.get("/credits/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "1 个额度" in content


def test_the_daily_chart_puts_spend_on_the_readers_local_day(alice):
    """Each row lands on its local day, up to the microsecond at either edge of a day, and
    spend from before the chart's first day is left out (the bucket is written in SQL)."""
    from studio.web.credits import CHART_DAYS, ledger_daily, start_of, visible_entries

    with timezone.override("Asia/Shanghai"):
        today = timezone.localdate()
        first = today - timedelta(days=CHART_DAYS - 1)
        tick = timedelta(microseconds=1)
        moments = {
            "1": start_of(today),  # today's first moment
            "2": start_of(today) - tick,  # yesterday's last
            "4": start_of(first),  # the chart's first day
            "8": start_of(first) - tick,  # before the chart
            "16": start_of(first + timedelta(days=13)) + timedelta(hours=23),
        }
        for amount, moment in moments.items():
            row = entry(alice, None, amount)
            CreditEntry.objects.filter(pk=row.pk).update(created_at=moment)
        days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
        rows = ledger_daily(visible_entries(alice, []), days)
    by_day = {row["day"]: row["total"] for row in rows}
    assert by_day == {
        today: Decimal("1"),
        today - timedelta(days=1): Decimal("2"),
        first: Decimal("4"),
        first + timedelta(days=13): Decimal("16"),
    }


def test_the_charts_read_the_same_spend_from_the_daily_rollup(
    alice, bob, django_assert_num_queries
):
    """The days that are over come from the daily roll-up, the last two from the ledger: for
    every filter, the charts' rows are the ledger's own, and the roll-up keeps only the
    charts' days."""
    from studio.money.models import DailySpend, RolledDay
    from studio.web.credits import (
        CHART_DAYS,
        LedgerFilters,
        daily,
        ledger_daily,
        visible_entries,
    )

    key = add_credential(alice, "girlgenerator", "studio key", "sk-girl-0123456789")
    today = timezone.localdate()
    for days_ago in range(0, CHART_DAYS + 5, 2):
        entry(alice, key, "2", days_ago=days_ago, money=Decimal("0.3"), currency="CNY")
        entry(alice, None, "1", unit="images", kind="images", days_ago=days_ago + 1)
        entry(bob, key, "5", days_ago=days_ago, money=Decimal("0.75"), currency="CNY")
    entry(bob, None, "7", days_ago=3)  # bob's own: not alice's to see
    entry(alice, None, "0", days_ago=4)  # the demo's zero rows are left out
    old = DailySpend.objects.create(day=today - timedelta(days=90), owner=alice, vendor="demo")

    days = [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]

    def row_key(row):
        return row["unit"], row["vendor"], row["currency"], row["day"]

    filters = [
        {},
        {"credential": str(key.pk)},
        {"vendor": "girlgenerator"},
        {"kind": "images"},
        {"start": str(days[10]), "end": str(days[20])},
        {"end": "not a day"},
    ]
    for data in filters:
        form = LedgerFilters(data, [key])
        from_ledger = ledger_daily(form.apply(visible_entries(alice, [key])), days)
        shown = daily(alice, [key], form, today)
        assert sorted(shown, key=row_key) == sorted(from_ledger, key=row_key), data
        assert bool(shown) == (data != {"end": "not a day"})

    rolled = set(RolledDay.objects.values_list("day", flat=True))
    assert rolled == set(days[:-2]) and not DailySpend.objects.filter(pk=old.pk).exists()
    assert DailySpend.objects.filter(day=days[0]).exists()
    with django_assert_num_queries(3):  # nothing left to roll up: one query for that
        daily(alice, [key], LedgerFilters({}, [key]), today)


def test_the_hourly_schedule_rolls_up_the_closed_days_and_months_before_any_page(
    alice, django_assert_num_queries
):
    """The migration schedules roll_up_spend every hour; once it has run, a credits page
    finds nothing left to roll up."""
    from importlib import import_module

    from django.apps import apps
    from django.utils.module_loading import import_string
    from django_q.models import Schedule

    from studio.money.models import DailySpend, MonthlySpend, RolledDay, RolledMonth
    from studio.money.services import live_day, live_from, roll_up_closed_days
    from studio.web.credits import CHART_DAYS

    migration = import_module("studio.money.migrations.0006_roll_up_schedule")
    Schedule.objects.filter(name=migration.NAME).delete()  # a flushed test database has none
    migration.create_schedule(apps, None)
    schedule = Schedule.objects.get(name=migration.NAME)
    assert schedule.schedule_type == Schedule.HOURLY
    key = add_credential(alice, "girlgenerator", "studio key", "sk-girl-0123456789")
    entry(alice, key, "2", days_ago=3)
    entry(alice, key, "4", days_ago=70)

    import_string(schedule.func)()

    today = timezone.localdate()
    first = today - timedelta(days=CHART_DAYS - 1)
    assert set(RolledDay.objects.values_list("day", flat=True)) == {
        first + timedelta(days=n) for n in range((live_day() - first).days)
    }
    assert DailySpend.objects.get(day=today - timedelta(days=3)).amount == Decimal("2")
    last_month = (live_from() - timedelta(days=1)).replace(day=1)
    assert RolledMonth.objects.filter(month=last_month).exists()
    assert sum(MonthlySpend.objects.values_list("amount", flat=True)) >= Decimal("4")
    with django_assert_num_queries(1):  # what a page load then asks: the last rolled day
        roll_up_closed_days(first)
