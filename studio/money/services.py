"""Money's rules: what a unit of spend costs on a day, what a job will cost, who may use a
shared key, and whether a job fits every budget that covers it.

Other packages call these functions, never the models' internals: the engine calls
`reserve` when it stores a job and `key_problem` before the paid POST; the ledger calls
`price_entry` for each row it writes and `settle` once a finished job's rows are written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from accounts.models import Credential, Membership, Team, record_event
from accounts.policy import policy_problem
from studio.models import CreditEntry, Generation, Image
from studio.money.models import (
    Budget,
    BudgetEvent,
    DailySpend,
    KeyShare,
    MonthlySpend,
    Price,
    Reservation,
    RolledDay,
    RolledMonth,
)

ZERO = Decimal(0)
PLACES = Decimal("0.000001")
SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}
WARN_AT = Decimal("0.8")


def money(value: Decimal | None, currency: str) -> str:
    """`¥0.84`, `$1.2`, `0.5 CHF`: exact, without trailing zeros beyond the cents."""
    if value is None:
        return ""
    value = Decimal(value)
    cents = value.quantize(Decimal("0.01"))
    # Cents always shown; finer fractions (a token price) only when there are some.
    text = f"{cents if value == cents else value.normalize():f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def images(count) -> str:
    count = int(count)
    return ngettext("%(count)s image", "%(count)s images", count) % {"count": count}


# --- the price book -------------------------------------------------------------------------


def params_key(params: dict) -> tuple[str, str]:
    size = params.get("size") or params.get("aspect_ratio") or ""
    return str(size), str(params.get("quality") or "")


def price_for(
    vendor: str, model: str, params: dict, per: str, day: date, credential_id: int | None
) -> Price | None:
    """The price of `per` on `day`: a key's own price first, then the most specific row
    (model, size, quality), then the newest that had started by that day."""
    size, quality = params_key(params or {})
    rows = Price.objects.filter(
        vendor=vendor,
        per=per,
        valid_from__lte=day,
        model__in=[model, ""],
        size__in=[size, ""],
        quality__in=[quality, ""],
    ).filter(Q(credential__isnull=True) | Q(credential_id=credential_id))

    def rank(p: Price):
        return (
            p.credential_id is not None,
            bool(p.model),
            bool(p.size),
            bool(p.quality),
            p.valid_from,
            p.pk,
        )

    return max(rows, key=rank, default=None)


def value_of(quantity: Decimal, per: str, price: Price) -> Decimal:
    if per == Price.Per.TOKENS:
        quantity = Decimal(quantity) / 1000
    return (Decimal(quantity) * price.amount).quantize(PLACES)


def price_entry(entry: CreditEntry, generation: Generation) -> None:
    """Gives a ledger row its money value at the price of the day it was spent, if priced."""
    day = timezone.localdate(entry.created_at)
    price = price_for(
        generation.vendor,
        generation.model,
        generation.params,
        entry.kind,
        day,
        generation.credential_id,
    )
    if price is not None:
        entry.money = value_of(entry.amount, entry.kind, price)
        entry.currency = price.currency
        entry.price = price


# What an image costs in a vendor's own units, where the vendor documents it: (least, most,
# where it says so). An estimate and a budget in those units count the most. GirlGeneratorAI:
# "1–3 credits per generation, depending on the model" (vendor-docs/girlgenerator.txt,
# 速率限制与 Credits). No token-billed vendor (aioagi, chatbp, new-api relays) documents the
# tokens an image takes, so a token price cannot give an estimate before the job is sent.
UNITS_PER_IMAGE: dict[tuple[str, str], tuple[Decimal, Decimal]] = {
    ("girlgenerator", Price.Per.CREDIT): (Decimal(1), Decimal(3)),
}


def most_units_per_image(vendor: str, per: str) -> Decimal | None:
    documented = UNITS_PER_IMAGE.get((vendor, per))
    return documented[1] if documented else None


def unit_name(per: str, count: Decimal) -> str:
    value = Decimal(count).normalize()
    n = int(value) if value == value.to_integral_value() else 2
    if per == Price.Per.CREDIT:
        return ngettext("%(n)s credit", "%(n)s credits", n) % {"n": f"{value:f}"}
    if per == Price.Per.TOKENS:
        return ngettext("%(n)s token", "%(n)s tokens", n) % {"n": f"{value:f}"}
    return images(value)


@dataclass
class Estimate:
    count: int
    total: Decimal | None = None
    each: Decimal | None = None
    price: Price | None = None
    free: bool = False
    # For a price per credit: the documented most credits one image takes.
    units_each: Decimal | None = None
    # Why there is no figure, when a price exists in units no one can count before the job.
    unpriced_per: str = ""

    def __str__(self) -> str:
        from studio.templatetags.studio import vendor_label

        if self.free:
            return _("Free: the demo sends nothing to a vendor.")
        if self.unpriced_per == Price.Per.TOKENS:
            return _(
                "Not priced before it is sent: this vendor bills in tokens and does not document "
                "how many tokens an image takes. The credits page values the job once the "
                "vendor reports them."
            )
        if self.unpriced_per == Price.Per.CREDIT:
            return _(
                "Not priced before it is sent: this vendor bills in credits and does not "
                "document how many credits an image takes. The credits page values the job "
                "once the vendor reports them."
            )
        if self.total is None:
            return _("Not priced: no price for this vendor and model is in the price book.")
        cur = self.price.currency
        if self.price.credential_id:
            whose = _("your price of %(day)s")
        else:
            whose = _("%(vendor)s price of %(day)s")
        whose = whose % {
            "vendor": vendor_label(self.price.vendor),
            "day": self.price.valid_from.isoformat(),
        }
        values = {
            "total": money(self.total, cur),
            "count": images(self.count),
            "each": money(self.each, cur),
            "whose": whose,
        }
        if self.units_each is None:
            return _("about %(total)s: %(count)s × %(each)s, %(whose)s") % values
        return _(
            "at most %(total)s: %(count)s × %(units)s at most × %(each)s, %(whose)s "
            "(the vendor documents %(least)s to %(most)s an image)"
        ) % {
            **values,
            "units": unit_name(self.price.per, self.units_each),
            "least": UNITS_PER_IMAGE[(self.price.vendor, self.price.per)][0],
            "most": unit_name(self.price.per, self.units_each),
        }


def estimate(
    vendor: str, model: str, params: dict, credential_id: int | None, day: date | None = None
) -> Estimate:
    """A job's cost before it is sent, at today's prices: its images times the price per
    image; else times the documented most credits an image takes times the price per credit.
    A price per 1,000 tokens gives no estimate: no vendor documents an image's tokens."""
    try:
        count = max(1, int((params or {}).get("n") or 1))
    except (TypeError, ValueError):
        count = 1  # the form reports a bad number itself
    if vendor == "demo":
        return Estimate(count, ZERO, ZERO, free=True)
    day = day or timezone.localdate()
    price = price_for(vendor, model, params, Price.Per.IMAGE, day, credential_id)
    if price is not None:
        return Estimate(count, (price.amount * count).quantize(PLACES), price.amount, price)
    for per in (Price.Per.CREDIT, Price.Per.TOKENS):
        price = price_for(vendor, model, params, per, day, credential_id)
        if price is None:
            continue
        most = most_units_per_image(vendor, per)
        if most is None:
            return Estimate(count, unpriced_per=per)
        total = (price.amount * most * count).quantize(PLACES)
        return Estimate(count, total, price.amount, price, units_each=most)
    return Estimate(count)


# --- team keys ------------------------------------------------------------------------------


def live_shares(credential_id: int, user_id: int):
    """The live shares of a key with a team that both `user` and the key's owner are in."""
    credential = Credential.objects.only("owner_id").get(pk=credential_id)
    return (
        KeyShare.objects.filter(credential_id=credential_id, stopped_at__isnull=True)
        .filter(team__memberships__user_id=user_id)
        .filter(team__memberships__user_id=credential.owner_id)
    )


def can_use(user, credential: Credential) -> bool:
    return credential.owner_id == user.pk or live_shares(credential.pk, user.pk).exists()


def usable_credentials(user) -> list[Credential]:
    """A user's own usable keys, then the keys their teams share with them."""
    own = list(Credential.objects.usable().filter(owner=user))
    teams = Membership.objects.filter(user=user).values("team_id")
    shared = (
        Credential.objects.usable()
        .filter(shares__stopped_at__isnull=True, shares__team_id__in=teams)
        .exclude(owner=user)
        .select_related("owner")
        .distinct()
    )
    return own + [c for c in shared if can_use(user, c)]


def choice_label(credential: Credential, user) -> str:
    """What a key is called in a form: a member sees its label and owner, never its last
    characters."""
    if credential.owner_id == user.pk:
        return str(credential)
    return _("%(vendor)s · %(label)s (team key of %(owner)s)") % {
        "vendor": credential.get_vendor_display(),
        "label": credential.label,
        "owner": credential.owner.get_username(),
    }


def key_unavailable_message(generation: Generation) -> str:
    return _(
        "The key's owner stopped sharing it with your team before this job was sent: it was "
        "not sent and nothing was charged."
    )


def team_rule_problem(user, credential: Credential) -> str | None:
    """Why a member may not use a team key shared with them: every team sharing it with them
    has a sign-in rule they do not meet (accounts.policy). None for one's own key."""
    if credential.owner_id == user.pk:
        return None
    problems = [
        policy_problem(user, share.team)
        for share in live_shares(credential.pk, user.pk).select_related("team")
    ]
    return None if not problems or None in problems else problems[0]


def key_problem(generation: Generation) -> str | None:
    """Why a job on someone else's key may no longer be sent, checked just before the POST."""
    credential = generation.credential
    if credential is None or credential.owner_id == generation.owner_id:
        return None
    if live_shares(credential.pk, generation.owner_id).exists():
        return team_rule_problem(generation.owner, credential)
    return key_unavailable_message(generation)


def validate_key(user, credential: Credential | None, vendor: str) -> None:
    if vendor == "demo" and credential is None:
        return
    if credential is None or not can_use(user, credential):
        was_shared = (
            credential is not None
            and KeyShare.objects.filter(
                credential=credential, team__memberships__user=user
            ).exists()
        )
        if was_shared:
            # Not tied to the field: the seam with the API reads the error's code directly.
            raise ValidationError(
                _("This team key is no longer shared with you."), code="key_unavailable"
            )
        raise ValidationError({"credential": "Choose one of your keys."})
    problem = team_rule_problem(user, credential)
    if problem:
        raise ValidationError(problem, code="key_unavailable")


def shareable_teams(user):
    return Team.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.OWNER
    ).order_by("name", "pk")


def share_key(credential: Credential, team: Team, by) -> KeyShare:
    share, _created = KeyShare.objects.get_or_create(
        credential=credential, team=team, stopped_at=None, defaults={"shared_by": by}
    )
    record_event(credential, "shared", f"shared with team “{team.name}” by {by.get_username()}")
    return share


def stop_sharing(share: KeyShare, by) -> int:
    """Stops a share at once; the queued jobs of members who lose the key end refused.
    Returns how many jobs were refused."""
    from studio.engine.state import fail

    with transaction.atomic():
        if not KeyShare.objects.filter(pk=share.pk, stopped_at__isnull=True).update(
            stopped_at=timezone.now()
        ):
            return 0
    credential = share.credential
    record_event(
        credential,
        "unshared",
        f"sharing with team “{share.team.name}” stopped by {by.get_username()}",
    )
    refused = 0
    waiting = Generation.objects.filter(
        credential=credential, status=Generation.Status.QUEUED
    ).exclude(owner_id=credential.owner_id)
    for job in waiting:
        if key_problem(job):
            refused += fail(
                job, Generation.Status.QUEUED, "key_unavailable", key_unavailable_message(job)
            )
    return refused


# --- budgets --------------------------------------------------------------------------------


def local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def window(budget: Budget, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The current period of a budget: [start, end)."""
    today = timezone.localdate(now or timezone.now())
    if budget.period == Budget.Period.DAYS and budget.period_days:
        step = budget.period_days
        k = (today - budget.starts_on).days // step
        first = budget.starts_on + timedelta(days=k * step)
        return local_start(first), local_start(first + timedelta(days=step))
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return local_start(first), local_start(following)


def applicable(generation: Generation) -> list[Budget]:
    """Every budget that covers a job (see RULES)."""
    credential = generation.credential
    if credential is None:
        return []  # the demo is free
    if credential.owner_id == generation.owner_id:
        rule = Q(scope=Budget.Scope.OWN, owner_id=generation.owner_id) & (
            Q(credential__isnull=True) | Q(credential=credential)
        )
    else:
        rule = Q(scope=Budget.Scope.MEMBER, credential=credential)
    rule |= Q(scope=Budget.Scope.KEY, credential=credential)
    return list(Budget.objects.filter(rule).order_by("pk"))


def unit_problem(measure: str, credential: Credential | None) -> str | None:
    """Why a limit in vendor units could not be checked before a job is sent, or None. Units
    differ between vendors, and a job is counted before it is sent only where the vendor
    documents the most units an image takes (UNITS_PER_IMAGE)."""
    if measure not in (Budget.Measure.CREDITS, Budget.Measure.TOKENS):
        return None
    if credential is None:
        return _("A limit in vendor units is for one key: choose it. Vendors' units differ.")
    if most_units_per_image(credential.vendor, measure) is None:
        what = _("credits") if measure == Budget.Measure.CREDITS else pgettext("unit", "tokens")
        return _(
            "%(vendor)s does not document how many %(units)s an image takes, so a job could "
            "not be counted against this limit before it is sent. Set it in money or in images."
        ) % {"vendor": credential.get_vendor_display(), "units": what}
    return None


def needed(budget: Budget, generation: Generation) -> Decimal | None:
    """A job's estimate in the budget's measure; None when it cannot be told (not priced, or
    the vendor documents no most credits per image)."""
    count = Decimal(max(1, int(generation.params.get("n") or 1)))
    if budget.measure == Budget.Measure.IMAGES:
        return count
    if budget.measure in (Budget.Measure.CREDITS, Budget.Measure.TOKENS):
        # The documented most an image takes is held until the vendor reports what it took.
        most = most_units_per_image(generation.vendor, budget.measure)
        return None if most is None else most * count
    guess = estimate(
        generation.vendor, generation.model, generation.params, generation.credential_id
    )
    if guess.total is None or guess.price.currency != budget.currency:
        return None
    return guess.total


def actual(reservation: Reservation, budget: Budget) -> Decimal:
    """What an ended job really spent, in the budget's measure."""
    if budget.measure == Budget.Measure.IMAGES:
        return Decimal(Image.objects.filter(generation_id=reservation.generation_id).count())
    rows = CreditEntry.objects.filter(generation_id=reservation.generation_id)
    if budget.measure in (Budget.Measure.CREDITS, Budget.Measure.TOKENS):
        return rows.filter(kind=budget.measure).aggregate(s=Sum("amount"))["s"] or ZERO
    if rows.filter(money__isnull=True).exists():
        return reservation.amount  # spend the price book cannot value: keep the estimate
    return rows.filter(currency=budget.currency).aggregate(s=Sum("money"))["s"] or ZERO


def settle(generation: Generation) -> int:
    """Replaces a finished job's estimates by its real spend in every budget that held them.
    The ledger calls it as soon as the job's rows are written; how many were settled."""
    settled = 0
    for r in Reservation.objects.filter(generation=generation, spent__isnull=True).select_related(
        "budget"
    ):
        spent = actual(r, r.budget)
        settled += Reservation.objects.filter(pk=r.pk, spent__isnull=True).update(spent=spent)
    return settled


def used(budget: Budget, start: datetime, end: datetime, member=None) -> Decimal:
    """Settled spend plus the estimates of jobs still in flight. A job that ended without
    ledger rows written through `settle` (a failed job) is settled here, as a safety net."""
    rows = Reservation.objects.filter(budget=budget, created_at__gte=start, created_at__lt=end)
    if member is not None:
        rows = rows.filter(generation__owner=member)
    total = rows.filter(spent__isnull=False).aggregate(s=Sum("spent"))["s"] or ZERO
    for r in (
        rows.filter(spent__isnull=True)
        .select_related("generation")
        .only("amount", "generation_id", "generation__status")
    ):
        if r.generation.status in Generation.ENDED:
            r.spent = actual(r, budget)
            Reservation.objects.filter(pk=r.pk, spent__isnull=True).update(spent=r.spent)
            total += r.spent
        else:
            total += r.amount
    return total


def quantity(value: Decimal, budget: Budget) -> str:
    if budget.measure == Budget.Measure.IMAGES:
        return images(value)
    if budget.measure in (Budget.Measure.CREDITS, Budget.Measure.TOKENS):
        return unit_name(budget.measure, value)
    return money(value, budget.currency)


def describe(budget: Budget) -> str:
    if budget.period == Budget.Period.DAYS and budget.period_days:
        period = ngettext("every %(n)s day", "every %(n)s days", budget.period_days) % {
            "n": budget.period_days
        }
    else:
        period = _("a calendar month")
    key = budget.credential.label if budget.credential_id else _("all my keys")
    scope = {
        Budget.Scope.OWN: _("Your own limit on %(key)s"),
        Budget.Scope.MEMBER: _("The limit for each member on the team key %(key)s"),
        Budget.Scope.KEY: _("The total limit of the team key %(key)s"),
    }[budget.scope] % {"key": f"“{key}”"}
    return _("%(scope)s (%(limit)s %(period)s)") % {
        "scope": scope,
        "limit": quantity(budget.limit, budget),
        "period": period,
    }


def refusal(budget: Budget, left: Decimal, need: Decimal | None, resets: datetime) -> str:
    when = timezone.localtime(resets).strftime("%Y-%m-%d %H:%M")
    if need is None and budget.measure == Budget.Measure.CREDITS:
        return _(
            "%(budget)s is in vendor credits and this vendor does not document how many an "
            "image may take, so the job cannot be counted against it and was not sent."
        ) % {"budget": describe(budget)}
    if need is None and budget.measure == Budget.Measure.TOKENS:
        return _(
            "%(budget)s is in vendor tokens and this vendor does not document how many an "
            "image may take, so the job cannot be counted against it and was not sent."
        ) % {"budget": describe(budget)}
    if need is None:
        return _(
            "%(budget)s is in %(currency)s and this vendor and model have no price in it, so "
            "the job cannot be counted against it and was not sent."
        ) % {"budget": describe(budget), "currency": budget.currency}
    return _(
        "Refused by a budget: %(budget)s. %(left)s left until it resets on %(when)s; this job "
        "needs %(need)s. Nothing was sent."
    ) % {
        "budget": describe(budget),
        "left": quantity(left, budget),
        "when": when,
        "need": quantity(need, budget),
    }


def reserve(generation: Generation) -> None:
    """Holds the job's estimate against every budget that covers it, or refuses the job.

    Call inside the transaction that stores the job. The budgets' rows are locked first
    (SELECT … FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transactions already hold the
    write lock), so two jobs racing for the last of a budget are counted one after the
    other: one of them is refused."""
    budgets = applicable(generation)
    if not budgets:
        return
    locked = list(
        Budget.objects.select_for_update().filter(pk__in=[b.pk for b in budgets]).order_by("pk")
    )
    now = timezone.now()
    for budget in locked:
        budget.credential = generation.credential if budget.credential_id else None
        need = needed(budget, generation)
        start, end = window(budget, now)
        if need is None:
            raise ValidationError(refusal(budget, ZERO, None, end), code="budget")
        member = generation.owner if budget.scope == Budget.Scope.MEMBER else None
        spent = used(budget, start, end, member)
        if spent + need > budget.limit:
            left = max(budget.limit - spent, ZERO)
            raise ValidationError(refusal(budget, left, need, end), code="budget")
        Reservation.objects.create(
            budget=budget, generation=generation, amount=need, created_at=now
        )


@dataclass
class BudgetState:
    budget: Budget
    member: object
    used: Decimal
    left: Decimal
    resets: datetime
    percent: int
    warn: bool
    label: str

    @property
    def used_text(self) -> str:
        return quantity(self.used, self.budget)

    @property
    def left_text(self) -> str:
        return quantity(self.left, self.budget)


def state_of(budget: Budget, member=None) -> BudgetState:
    start, end = window(budget)
    spent = used(budget, start, end, member)
    share = spent / budget.limit if budget.limit else Decimal(1)
    return BudgetState(
        budget=budget,
        member=member,
        used=spent,
        left=max(budget.limit - spent, ZERO),
        resets=end,
        percent=min(100, int(share * 100)),
        warn=share >= WARN_AT,
        label=describe(budget),
    )


def log_budget(budget: Budget, by, message: str) -> None:
    BudgetEvent.objects.create(owner=by, credential=budget.credential, message=message[:300])
    if budget.credential_id:
        record_event(budget.credential, "budget", message)


def set_budget(budget: Budget, by) -> Budget:
    budget.owner = by
    budget.save()
    log_budget(budget, by, f"{by.get_username()} set: {describe(budget)}")
    return budget


def remove_budget(budget: Budget, by) -> None:
    log_budget(budget, by, f"{by.get_username()} removed: {describe(budget)}")
    budget.delete()


def warnings_for(user, credential: Credential | None) -> list[str]:
    """Sentences for the generate form: each budget covering a job on this key that is 80 %
    used or more, with what is left and when it resets."""
    if credential is None:
        return []
    probe = Generation(
        owner=user, owner_id=user.pk, credential=credential, vendor=credential.vendor
    )
    notes = []
    for budget in applicable(probe):
        budget.credential = credential if budget.credential_id else None
        state = state_of(budget, user if budget.scope == Budget.Scope.MEMBER else None)
        if state.warn:
            notes.append(
                _("%(budget)s is %(percent)s percent used: %(left)s left until %(when)s.")
                % {
                    "budget": state.label,
                    "percent": state.percent,
                    "left": state.left_text,
                    "when": timezone.localtime(state.resets).strftime("%Y-%m-%d %H:%M"),
                }
            )
    return notes


# --- the monthly roll-up ----------------------------------------------------------------------


def next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def live_from(now: datetime | None = None) -> date:
    """The first month still read from the ledger itself: the month of yesterday. A month is
    rolled up once it has been over for a day, so that a ledger row written in its last
    second is in it whatever the commit's delay."""
    yesterday = timezone.localdate(now or timezone.now()) - timedelta(days=1)
    return yesterday.replace(day=1)


def roll_up(marker, spend, key: str, period: date, end: date, grouped: tuple[str, ...]) -> bool:
    """Rolls the ledger's rows from `period` up to `end` (local days) into `spend` rows by
    `grouped`, once: `marker` (RolledMonth or RolledDay, unique on `key`) is created first,
    so that a concurrent roll-up of the same period fails there and rolls back. False if
    another process already has."""
    try:
        with transaction.atomic():
            marker.objects.create(**{key: period})
            rows = (
                CreditEntry.objects.filter(
                    created_at__gte=local_start(period), created_at__lt=local_start(end)
                )
                # The credits page leaves out the demo's zero rows; so do its roll-ups.
                .exclude(vendor="demo", amount=0)
                .values(*grouped)
                .annotate(total=Sum("money"), amount=Sum("amount"))
                .order_by()
            )
            spend.objects.bulk_create([spend(**{key: period}, **row) for row in rows])
    except IntegrityError:
        return False
    return True


SPENT_BY = ("owner_id", "credential_id", "vendor", "kind", "currency", "unit")


def roll_up_month(month: date) -> bool:
    """Rolls up one month that is over; False if another process already has."""
    grouped = (*SPENT_BY, "model")
    return roll_up(RolledMonth, MonthlySpend, "month", month, next_month(month), grouped)


def roll_up_closed_months(now: datetime | None = None) -> date:
    """Makes sure every month before the live one is rolled up; returns the live month. One
    query when nothing is to do (every page load but the first after a month ends)."""
    live = live_from(now)
    last = RolledMonth.objects.order_by("-month").values_list("month", flat=True).first()
    if last is not None and next_month(last) >= live:
        return live
    if last is None:
        first = CreditEntry.objects.filter(created_at__lt=local_start(live)).aggregate(
            first=Min("created_at")
        )["first"]
        # No spend before the live month: mark the month before it rolled (empty), so that
        # later page loads ask one query. No older row can appear: the ledger only appends.
        day = timezone.localdate(first) if first else live - timedelta(days=1)
        month = day.replace(day=1)
    else:
        month = next_month(last)
    while month < live:
        roll_up_month(month)
        month = next_month(month)
    return live


# --- the daily roll-up ------------------------------------------------------------------------


def live_day(now: datetime | None = None) -> date:
    """The first day still read from the ledger itself: yesterday. A day is rolled up once it
    has been over for a day, as a month is (`live_from`)."""
    return timezone.localdate(now or timezone.now()) - timedelta(days=1)


def roll_up_day(day: date) -> bool:
    """Rolls up one day that is over; False if another process already has."""
    return roll_up(RolledDay, DailySpend, "day", day, day + timedelta(days=1), SPENT_BY)


def roll_up_closed_days(first: date, now: datetime | None = None) -> date:
    """Makes sure every day from `first` to the live one is rolled up, and forgets the days
    before `first`; returns the live day. One query when nothing is to do (every page load
    but the first of a day)."""
    live = live_day(now)
    last = RolledDay.objects.order_by("-day").values_list("day", flat=True).first()
    if last is not None and last + timedelta(days=1) >= live:
        return live
    day = first if last is None else max(first, last + timedelta(days=1))
    while day < live:
        roll_up_day(day)
        day += timedelta(days=1)
    DailySpend.objects.filter(day__lt=first).delete()
    RolledDay.objects.filter(day__lt=first).delete()
    return live
