"""Credits: each key's last known balance, spend over time as a server-drawn SVG chart, and
the ledger with filters and CSV export."""

from __future__ import annotations

import csv
import html
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import IntegerField, Max, Min, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.models import Credential
from studio.models import CreditEntry
from studio.money import services as rollup
from studio.money.models import DailySpend, MonthlySpend
from studio.money.services import money
from studio.money.templatetags.money import units
from studio.templatetags.studio import amount, date_formatter, vendor_label
from studio.vendors import ADAPTERS
from studio.web.gallery import start_of
from studio.web.paging import keyset_page
from studio.web.params import DayField, id_urls
from studio.web.streaming import StreamingResponse

# 25 rows: rendering them is most of the page's server time (benchmarks/README.md); the
# CSV export has them all.
PAGE_SIZE = 25
CHART_DAYS = 30
CHART_WIDTH, CHART_HEIGHT = 600, 140


class LedgerFilters(forms.Form):
    credential = forms.ChoiceField(label=_("Key"), required=False)
    vendor = forms.ChoiceField(label=_("Vendor"), required=False)
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any")), *CreditEntry.Kind.choices]
    )
    start = DayField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = DayField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, credentials: list[Credential]) -> None:
        super().__init__(data)
        anything = [("", _("Any"))]
        self.fields["credential"].choices = anything + [(str(c.pk), str(c)) for c in credentials]
        self.fields["vendor"].choices = anything + [(k, vendor_label(k)) for k in ADAPTERS]

    def by_key_vendor_kind(self, rows: QuerySet) -> QuerySet:
        """The filters that every spend row answers, on the ledger and on the roll-ups
        (studio.money), which keep each row's key id, vendor and kind; no rows at all if the
        form is invalid."""
        if not self.is_valid():
            return rows.none()
        data = self.cleaned_data
        if data["credential"]:
            rows = rows.filter(credential_id=data["credential"])
        for name in ("vendor", "kind"):
            if data[name]:
                rows = rows.filter(**{name: data[name]})
        return rows

    def apply(self, entries: QuerySet) -> QuerySet:
        entries = self.by_key_vendor_kind(entries)
        data = getattr(self, "cleaned_data", {})
        if data.get("start"):
            entries = entries.filter(created_at__gte=start_of(data["start"]))
        if data.get("end"):
            entries = entries.filter(created_at__lt=start_of(data["end"] + timedelta(days=1)))
        return entries

    def apply_rolled(self, rows: QuerySet) -> QuerySet:
        """The same filters on a roll-up's rows. A span of days only on the daily roll-up's:
        a month cut by one is read from the ledger instead (spend_by_month)."""
        rows = self.by_key_vendor_kind(rows)
        data = getattr(self, "cleaned_data", {})
        if data.get("start"):
            rows = rows.filter(day__gte=data["start"])
        if data.get("end"):
            rows = rows.filter(day__lte=data["end"])
        return rows

    def query(self, **extra) -> str:
        values = {k: v for k, v in self.data.items() if v and k != "after"}
        return urlencode({**values, **extra})


def visible_entries(user, credentials: list[Credential]) -> QuerySet:
    """One's own spend and others' spend on one's keys (team keys); the demo's zero rows
    (it is free) are left out. The keys by id, not through a join: the ledger's covering
    index then answers the per-key sums alone."""
    return CreditEntry.objects.filter(
        Q(owner=user) | Q(credential_id__in=[c.pk for c in credentials])
    ).exclude(vendor="demo", amount=0)


def renamed(row: dict, **names: str) -> dict:
    """A values() row with keys renamed (new=old): an annotation cannot take a model field's
    name, and a bucket's index becomes its day or month."""
    for new, old in names.items():
        row[new] = row.pop(old)
    return row


def visible_rolled(model, user, credentials: list[Credential]) -> QuerySet:
    """A roll-up's rows (studio.money) of the same spend as visible_entries: one's own and
    others' on one's keys (the roll-ups leave out the demo's zero rows already)."""
    return model.objects.filter(Q(owner=user) | Q(credential_id__in=[c.pk for c in credentials]))


def bucket(starts: list[datetime]) -> RawSQL:
    """The index of the period (day or month, starting at `starts`) each ledger row's
    created_at falls in, or 0 before them all: a CASE that halves the periods at each level, so
    that a row is compared about log2(len(starts)) times instead of once per period
    (SQLite truncates a date in a Python function per row; a flat CASE over 30 days was
    most of the chart's query at 10,000 rows a month: benchmarks/README.md, million).
    Written as SQL: the same CASE built from When() and Q() took the ORM 3-4 ms to resolve
    and compile, most of the credits page's own time for a small ledger."""
    quote = connection.ops.quote_name
    column = f"{quote(CreditEntry._meta.db_table)}.{quote('created_at')}"
    adapt = connection.ops.adapt_datetimefield_value

    def case(first: int, end: int) -> tuple[str, list]:
        if end - first == 1:
            return str(first), []
        middle = (first + end) // 2
        later, later_params = case(middle, end)
        earlier, earlier_params = case(first, middle)
        sql = f"CASE WHEN {column} >= %s THEN {later} ELSE {earlier} END"
        return sql, [adapt(starts[middle]), *later_params, *earlier_params]

    sql, params = case(0, len(starts))
    return RawSQL(sql, params, output_field=IntegerField())


def daily(user, credentials: list[Credential], filters: LedgerFilters, today: date) -> list[dict]:
    """The last 30 days' spend by day, unit, vendor and currency, in units and in money, for
    both charts: the days that are over from the daily roll-up (studio.money), the last two
    from the ledger itself."""
    days = [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]
    live = rollup.roll_up_closed_days(days[0])  # done already by roll_up_spend, mostly
    rolled = (
        filters.apply_rolled(visible_rolled(DailySpend, user, credentials))
        .filter(day__gte=days[0], day__lt=live)
        .values("unit", "vendor", "currency", "day")
        .annotate(units=Sum("amount"), spent=Sum("total"))
        .order_by()
    )
    rows = [renamed(r, total="units", money="spent") for r in rolled]
    entries = filters.apply(visible_entries(user, credentials))
    return rows + ledger_daily(entries, [day for day in days if day >= live])


def ledger_daily(entries: QuerySet, days: list[date]) -> list[dict]:
    """The same figures for a run of days, read from the ledger rows: one query, answered by
    the ledger's covering index for recent spend."""
    starts = [start_of(day) for day in days]
    rows = (
        entries.filter(created_at__gte=starts[0])
        .annotate(bucket=bucket(starts))
        .values("unit", "vendor", "currency", "bucket")
        .annotate(total=Sum("amount"), money=Sum("money"))
        .order_by()
    )
    rows = [renamed(row, day="bucket") for row in rows]
    return [{**row, "day": days[row["day"]]} for row in rows]


def rects(bars: list[dict], width: str, css: str) -> str:
    """A chart's bars as SVG. The coordinates are numbers formatted here; the class and the
    title are escaped. A template loop over 200 bars with six lookups each was a third of the
    page's time, and format_html on each bar still 2 ms of it (benchmarks/README.md); Django's
    `escape` (html.escape behind a check for lazy strings) 1 ms."""
    return mark_safe(
        "".join(
            f'<rect x="{bar["x"]}" y="{bar["y"]}" width="{width}" height="{bar["height"]}" '
            f'class="{html.escape(css.format(**bar))}"><title>{html.escape(bar["title"])}</title>'
            "</rect>"
            for bar in bars
        )
    )


def chart_labels(today: date) -> list[str]:
    """The charts' 30 days as the reader writes a date, formatted once for both charts."""
    first = today - timedelta(days=CHART_DAYS - 1)
    label = date_formatter("SHORT_DATE_FORMAT")
    return [label(first + timedelta(days=i)) for i in range(CHART_DAYS)]


def charts(rows: list[dict], today: date, day_labels: list[str]) -> list[dict]:
    """One bar chart per unit (credits, images, tokens): they cannot share an axis."""
    first = today - timedelta(days=CHART_DAYS - 1)
    days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
    by_unit: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        by_unit[row["unit"]][row["day"]] += row["total"]
    result = []
    slot = CHART_WIDTH / CHART_DAYS
    # The bars' numbers and titles are formatted once here rather than by template filters
    # on each of 60 bars (benchmarks/README.md: the credits page).
    for unit, totals in sorted(by_unit.items()):
        peak = max(totals.values()) or Decimal(1)
        bars = []
        # A value written once per chart: days repeat the same few totals (and zeros), and
        # number formatting for the reader's locale is most of a bar's cost.
        written: dict[Decimal, str] = {}
        for i, day in enumerate(days):
            value = totals.get(day, Decimal(0))
            if value not in written:
                written[value] = units(value, unit)
            height = round(float(value / peak) * CHART_HEIGHT, 1) if value else 0
            bars.append(
                {
                    # SVG coordinates: always with a full stop, whatever the reader's locale.
                    "x": f"{i * slot + 1:.1f}",
                    "y": f"{CHART_HEIGHT - height:.1f}",
                    "height": f"{height:.1f}",
                    "title": f"{day_labels[i]}: {written[value]}",
                }
            )
        total = sum(totals.values(), Decimal(0))
        result.append(
            {
                "unit": unit,
                "bars": bars,
                "rects": rects(bars, f"{slot - 2:.1f}", "bar"),
                "peak": peak,
                "total": total,
                "width": f"{slot - 2:.1f}",
                "first": day_labels[0],
                "last": day_labels[-1],
            }
        )
    return result


def money_chart(rows: list[dict], today: date, day_labels: list[str]) -> list[dict]:
    """Daily spend in money, one stacked bar per day with a segment per vendor; one chart
    per currency (they cannot share an axis either)."""
    first = today - timedelta(days=CHART_DAYS - 1)
    rows = [r for r in rows if r["money"] is not None]
    table: dict[str, dict[date, dict[str, Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(Decimal))
    )
    for row in rows:
        table[row["currency"]][row["day"]][row["vendor"]] += row["money"]
    slot = CHART_WIDTH / CHART_DAYS
    vendor_labels = {v: vendor_label(v) for v in {r["vendor"] for r in rows}}
    result = []
    for currency, days in sorted(table.items()):
        peak = max(sum(v.values(), Decimal(0)) for v in days.values()) or Decimal(1)
        vendors = sorted({v for by_vendor in days.values() for v in by_vendor})
        segments = []
        for i in range(CHART_DAYS):
            day = first + timedelta(days=i)
            top = float(CHART_HEIGHT)
            for vendor in vendors:
                value = days.get(day, {}).get(vendor)
                if not value:
                    continue
                height = round(float(value / peak) * CHART_HEIGHT, 1)
                top -= height
                segments.append(
                    {
                        "x": f"{i * slot + 1:.1f}",
                        "y": f"{top:.1f}",
                        "height": f"{height:.1f}",
                        "vendor": vendor,
                        "title": f"{day_labels[i]}, {vendor_labels[vendor]}: "
                        f"{money(value, currency)}",
                    }
                )
        total = sum((sum(v.values(), Decimal(0)) for v in days.values()), Decimal(0))
        result.append(
            {
                "currency": currency,
                "segments": segments,
                "rects": rects(segments, f"{slot - 2:.1f}", "bar vendor-{vendor}"),
                "vendors": [(v, vendor_labels[v]) for v in vendors],
                "peak": money(peak, currency),
                "total": money(total, currency),
                "width": f"{slot - 2:.1f}",
                "first": day_labels[0],
                "last": day_labels[-1],
            }
        )
    return result


def month_starts(first: datetime, last: datetime) -> list[datetime]:
    """The local months from `first`'s to `last`'s, as aware datetimes at their start."""
    day = timezone.localdate(first).replace(day=1)
    end = timezone.localdate(last)
    starts = []
    while day <= end:
        starts.append(start_of(day))
        day = (day + timedelta(days=32)).replace(day=1)
    return starts


GROUPED = ("vendor", "model", "credential_id", "owner_id", "currency")


def ledger_months(entries: QuerySet, since: date | None = None) -> list[dict]:
    """The spend of some ledger rows by GROUPED, unit and month, in units and in money
    (`spent`, None where no row is priced), read from the rows themselves: one grouped query
    answered by a covering index (no join). A row's month is a CASE over the months' starts:
    truncating 10,000 dates in SQLite calls a Python function per row (benchmarks/README.md).
    From `since` on, the months are known without asking."""
    entries = entries.order_by()
    if since is not None:
        starts = month_starts(start_of(since), timezone.now())
    else:
        span = entries.aggregate(first=Min("created_at"), last=Max("created_at"))
        if span["first"] is None:
            return []
        starts = month_starts(span["first"], span["last"])
    rows = (
        entries.annotate(bucket=bucket(starts))
        .values(*GROUPED, "unit", "bucket")
        .annotate(units=Sum("amount"), spent=Sum("money"))
    )
    months = [timezone.localdate(start) for start in starts]
    rows = [renamed(row, month="bucket") for row in rows]
    return [{**row, "month": months[row["month"]]} for row in rows]


def spend_months(
    user, credentials: list[Credential], live: date, filters: LedgerFilters | None = None
) -> list[dict]:
    """The user's visible spend (that the filters' key, vendor and kind keep, if given) by
    GROUPED, unit and month, as ledger_months gives it: from the monthly roll-up (studio.money)
    for the months that are over (before `live`), from the ledger for the live months, so that
    a page does not read a year of rows. Unfiltered, both each key's spend and the money totals
    are read from these rows."""
    rolled = visible_rolled(MonthlySpend, user, credentials)
    entries = visible_entries(user, credentials)
    if filters is not None:
        rolled, entries = filters.apply_rolled(rolled), filters.apply(entries)
    rolled = (
        rolled.filter(month__lt=live)
        .values(*GROUPED, "unit", "month")
        .annotate(units=Sum("amount"), spent=Sum("total"))
        .order_by()
    )
    return [*rolled, *ledger_months(entries.filter(created_at__gte=start_of(live)), since=live)]


def priced(rows: list[dict]) -> list[dict]:
    """The rows with a money value, as money_totals reads them."""
    return [{**row, "total": row["spent"]} for row in rows if row["spent"] is not None]


def spend_by_month(
    user, credentials: list[Credential], filters: LedgerFilters, months: list[dict], live: date
) -> list[dict]:
    """The priced spend that the filters keep, by GROUPED and month, for money_totals;
    `months` are the page's unfiltered spend_months rows."""
    if not filters.is_valid():
        return []
    data = filters.cleaned_data
    if data["start"] or data["end"]:
        # A span of days cuts months in two: only the ledger itself knows those parts.
        return priced(ledger_months(filters.apply(visible_entries(user, credentials))))
    if any(data.values()):
        months = spend_months(user, credentials, live, filters)
    return priced(months)


def member_names(user, ids: set[int]) -> dict[int, str]:
    """Usernames by id: the user's own without a query, others' (spend on one's team keys)
    in one."""
    others = ids - {user.pk}
    names = dict(User.objects.filter(pk__in=others).values_list("pk", "username")) if others else {}
    return {**names, user.pk: user.get_username()}


def spend_keys(credentials: list[Credential], rows: list[dict]) -> dict[int, Credential]:
    """The keys that spend rows name, by id: the user's own (`credentials`), and others' team
    keys that the user spent on, in one query with their owners (the page names them). The
    roll-up keeps a deleted key's id, which the ledger's rows have lost: neither is found here,
    and both are spend without a key."""
    keys = {c.pk: c for c in credentials}
    others = {r["credential_id"] for r in rows} - {*keys, None}
    if others:
        keys.update(Credential.objects.select_related("owner").in_bulk(others))
    return keys


def money_totals(
    user, rows: list[dict], keys: dict[int, Credential], names: dict[int, str]
) -> dict[str, list[dict]]:
    """Spend in money by vendor, model, key, member (others' spend on one's own keys) and
    month, per currency, rolled up here from the grouped rows of `spend_by_month`; `keys` and
    `names` as the page has them already (spend_keys, member_names)."""
    if not rows:
        return {name: [] for name in ("vendor", "model", "key", "member", "month")}
    groups = {
        "vendor": ("vendor",),
        "model": ("vendor", "model"),
        "key": ("credential_id",),
        "member": ("owner_id",),
        "month": ("month",),
    }
    sums: dict[str, dict[tuple, Decimal]] = {name: defaultdict(Decimal) for name in groups}
    for row in rows:
        key = keys.get(row["credential_id"])
        # A deleted key's spend is spend without a key, in the roll-up as on the ledger.
        row = {**row, "credential_id": key.pk if key else None}
        for name, fields in groups.items():
            if name == "member" and (key is None or key.owner_id != user.pk):
                continue
            sums[name][(*(row[f] for f in fields), row["currency"])] += row["total"]

    month_label = date_formatter("YEAR_MONTH_FORMAT")

    def listed(name: str, found: dict) -> list[dict]:
        """Each total with its row's heading, written here once (through the template's
        filters, the five tables' 60 rows were a tenth of the page)."""
        items = []
        for key, total in found.items():
            item = {"currency": key[-1], "total": total, "money": money(total, key[-1])}
            if name == "key":
                item["label"] = keys[key[0]].label if key[0] in keys else ""
                item["heading"] = item["label"] or str(_("None needed"))
            elif name == "member":
                item["label"] = item["heading"] = names.get(key[0], "")
            elif name == "month":
                item["month"] = key[0]
                item["label"] = item["month"].isoformat()
                item["heading"] = month_label(item["month"])
            else:
                item["label"] = key[-2]
                item.update(zip(("vendor", "model"), key[:-1], strict=False))
                item["heading"] = vendor_label(item["vendor"])
                if name == "model":
                    item["heading"] += f" · {item['model'] or '—'}"
            items.append(item)
        return sorted(items, key=lambda i: (str(i["label"]), i["currency"]))

    return {name: listed(name, sums[name]) for name in groups}


def summaries(
    credentials: list[Credential], found: list[dict], keys: dict[int, Credential]
) -> list[dict]:
    """Each key's spend in units since it was first used, from spend_months' rows (a sum over
    a user's whole ledger was most of the page at 100,000 images: benchmarks/README.md,
    million): the user's own keys, then others' team keys (`keys`, from spend_keys), the demo
    and deleted keys."""
    totals: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in found:
        pk = row["credential_id"] if row["credential_id"] in keys else None
        totals[(pk, row["vendor"], row["unit"])] += row["units"]
    by_key: dict[tuple, list] = defaultdict(list)
    for (pk, vendor, unit), total in sorted(
        totals.items(),
        key=lambda item: (item[0][1], item[0][0] is None, item[0][0] or 0, item[0][2]),
    ):
        by_key[(pk, vendor)].append({"unit": unit, "total": total})
    rows = [
        {"credential": c, "vendor": c.vendor, "spent": by_key.pop((c.pk, c.vendor), [])}
        for c in credentials
    ]
    # Then the demo and keys deleted since.
    rows += [{"credential": keys.get(pk), "vendor": v, "spent": s} for (pk, v), s in by_key.items()]
    return rows


# One ledger row. Built in Python, as the gallery's tiles are (gallery.TILE): through the
# template engine, 25 rows of nine cells with a filter each were a sixth of the page's time.
# Every value is escaped, except the cells built here from escaped parts (key, job, money).
LEDGER_ROW = """      <tr>
        <td><time datetime="{iso}">{when}</time></td>
        <td>{vendor}</td>
        <td>{key}</td>
        <td>{job}</td>
        <td>{kind}</td>
        <td class="number">{amount}</td>
        <td class="number">{balance}</td>
        <td class="number">{money}</td>
        <td>{member}</td>
      </tr>
"""


# The columns a ledger row shows (and the keyset cursor: created_at, pk), read as rows rather
# than models, as the gallery's tiles are; not the vendor's raw reply, which each row keeps for
# the record. The key's label is None where the row has no key.
LEDGER_COLUMNS = (
    "pk",
    "created_at",
    "owner_id",
    "vendor",
    "credential__label",
    "generation_id",
    "kind",
    "amount",
    "unit",
    "balance_after",
    "money",
    "currency",
)


def ledger_rows(entries, names: dict[int, str]) -> str:
    """The ledger's rows (of LEDGER_COLUMNS), members by name (member_names)."""
    job_url, kinds = id_urls("job"), dict(CreditEntry.Kind.choices)
    when = date_formatter("SHORT_DATETIME_FORMAT")
    here = timezone.get_current_timezone()  # once, as gallery.tiles_html does
    no_key = '<span class="muted">—</span>'
    not_priced = f'<span class="muted">{escape(_("not priced"))}</span>'
    rows = []
    for entry in entries:
        values = {
            "iso": entry.created_at.isoformat(),
            "when": when(timezone.localtime(entry.created_at, here)),
            "vendor": vendor_label(entry.vendor),
            "kind": kinds.get(entry.kind, entry.kind),
            "amount": units(entry.amount, entry.unit),
            "balance": amount(entry.balance_after),
            "member": names.get(entry.owner_id, ""),
        }
        cells = {name: html.escape(str(value)) for name, value in values.items()}
        label, job = entry.credential__label, entry.generation_id
        cells["key"] = no_key if label is None else html.escape(label)
        cells["job"] = f'<a href="{job_url(job)}">#{job}</a>' if job else ""
        cells["money"] = (
            html.escape(money(entry.money, entry.currency))
            if entry.money is not None
            else not_priced
        )
        rows.append(LEDGER_ROW.format_map(cells))
    return mark_safe("".join(rows))


@login_required
def credits(request: HttpRequest) -> HttpResponse:
    credentials = list(Credential.objects.filter(owner=request.user))
    filters = LedgerFilters(request.GET, credentials)
    entries = filters.apply(visible_entries(request.user, credentials))
    # Not joined to the users (ledger_rows names the members): that join made SQLite scan users
    # first and sort the whole ledger for one page (19 ms); alone, the ledger's
    # (owner, -created_at) index serves the page in order (1 ms). benchmarks/README.md.
    page, next_cursor = keyset_page(
        entries.values_list(*LEDGER_COLUMNS, named=True), request.GET.get("after"), PAGE_SIZE
    )
    today = timezone.localdate()
    days = daily(request.user, credentials, filters, today)
    # The first month still read from the ledger, once the months before it are rolled up.
    live = rollup.roll_up_closed_months()
    labels = chart_labels(today)
    months = spend_months(request.user, credentials, live)
    keys = spend_keys(credentials, months)
    # Every member the page names: others' spend on one's keys is in the months' rows (a query
    # only if there is some).
    names = member_names(request.user, {r["owner_id"] for r in months} | {e.owner_id for e in page})
    ctx = {
        "filters": filters,
        "summaries": summaries(credentials, months, keys),
        "charts": charts(days, today, labels),
        "money_charts": money_chart(days, today, labels),
        "totals": money_totals(
            request.user,
            spend_by_month(request.user, credentials, filters, months, live),
            keys,
            names,
        ),
        "chart_size": (CHART_WIDTH, CHART_HEIGHT),
        "entries": page,
        "ledger_rows": ledger_rows(page, names),
        "next_query": filters.query(after=next_cursor) if next_cursor else "",
        "export_query": filters.query(),
    }
    return render(request, "studio/credits.html", ctx)


def roll_up_spend() -> None:
    """Scheduled task (hourly): rolls up the months and the charts' days that are over, so
    that no page load pays for it: the first page of each day would roll a day (0.2 s at a
    million ledger rows), the first after a deploy every month and 28 days (seconds). The
    page still rolls up whatever the schedule has not, should no worker be running."""
    rollup.roll_up_closed_months()
    rollup.roll_up_closed_days(timezone.localdate() - timedelta(days=CHART_DAYS - 1))


class Echo:
    def write(self, value: str) -> str:
        return value


def csv_cell(value) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: a key label must not run.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def plain(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


@require_GET
@login_required
def export(request: HttpRequest) -> StreamingResponse:
    credentials = list(Credential.objects.filter(owner=request.user))
    filters = LedgerFilters(request.GET, credentials)
    entries = filters.apply(visible_entries(request.user, credentials))
    entries = entries.select_related("credential", "owner", "price").order_by("-created_at", "-pk")
    writer = csv.writer(Echo())
    header = ["time", "vendor", "key", "job", "kind", "amount", "unit", "balance_after"]
    # Money columns after the old ones, so that readers of the old layout keep working.
    header += ["money", "currency", "price_of", "member"]

    def rows():
        yield writer.writerow(header)
        for e in entries.iterator(chunk_size=1000):
            key = f"{e.credential.label} …{e.credential.last4}" if e.credential else ""
            yield writer.writerow(
                [
                    e.created_at.isoformat(),
                    e.vendor,
                    csv_cell(key),
                    e.generation_id or "",
                    e.kind,
                    plain(e.amount),
                    e.unit,
                    plain(e.balance_after),
                    plain(e.money),
                    e.currency,
                    e.price.valid_from.isoformat() if e.price else "",
                    csv_cell(e.owner.get_username()),
                ]
            )

    response = StreamingResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="studio-credits.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
