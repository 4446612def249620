"""Money's rules: what a unit of spend costs on a day, what a job will cost, who may use a
shared key, and whether a job fits every budget that covers it.

Other packages call these functions, never the models' internals: the engine calls
`reserve` when it stores a job and `key_problem` before the paid POST; the ledger calls
`price_entry` for each row it writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Credential, Membership, Team, record_event
from accounts.policy import policy_problem
from studio.models import CreditEntry, Generation, Image
from studio.money.models import Budget, BudgetEvent, KeyShare, Price, Reservation

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


@dataclass
class Estimate:
    count: int
    total: Decimal | None = None
    each: Decimal | None = None
    price: Price | None = None
    free: bool = False

    def __str__(self) -> str:
        if self.free:
            return _("Free: the demo sends nothing to a vendor.")
        if self.total is None:
            return _("Not priced: no price for this vendor and model is in the price book.")
        cur = self.price.currency
        whose = _("your price") if self.price.credential_id else _("price book")
        return _("about %(total)s: %(count)s × %(each)s, %(whose)s of %(day)s") % {
            "total": money(self.total, cur),
            "count": images(self.count),
            "each": money(self.each, cur),
            "whose": whose,
            "day": self.price.valid_from.isoformat(),
        }


def estimate(
    vendor: str, model: str, params: dict, credential_id: int | None, day: date | None = None
) -> Estimate:
    """A job's cost before it is sent: its images times the price per image of today."""
    try:
        count = max(1, int((params or {}).get("n") or 1))
    except (TypeError, ValueError):
        count = 1  # the form reports a bad number itself
    if vendor == "demo":
        return Estimate(count, ZERO, ZERO, free=True)
    day = day or timezone.localdate()
    price = price_for(vendor, model, params, Price.Per.IMAGE, day, credential_id)
    if price is None:
        return Estimate(count)
    return Estimate(count, (price.amount * count).quantize(PLACES), price.amount, price)


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


# The most credits an image may cost, where a vendor documents it: a credits limit holds this
# much per image until the vendor reports what it really took. GirlGeneratorAI: "1–3 credits
# per generation, depending on the model" (vendor-docs/girlgenerator.txt, 速率限制与 Credits).
MAX_CREDITS_PER_IMAGE = {"girlgenerator": Decimal(3)}


def needed(budget: Budget, generation: Generation) -> Decimal | None:
    """A job's estimate in the budget's measure; None when it cannot be told (not priced, or
    the vendor documents no most credits per image)."""
    count = Decimal(max(1, int(generation.params.get("n") or 1)))
    if budget.measure == Budget.Measure.IMAGES:
        return count
    if budget.measure == Budget.Measure.CREDITS:
        most = MAX_CREDITS_PER_IMAGE.get(generation.vendor)
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
    if budget.measure == Budget.Measure.CREDITS:
        return rows.filter(kind="credits").aggregate(s=Sum("amount"))["s"] or ZERO
    if rows.filter(money__isnull=True).exists():
        return reservation.amount  # spend the price book cannot value: keep the estimate
    return rows.filter(currency=budget.currency).aggregate(s=Sum("money"))["s"] or ZERO


def used(budget: Budget, start: datetime, end: datetime, member=None) -> Decimal:
    """Settled spend plus the estimates of jobs still in flight; jobs that have ended since
    are settled to their real spend here."""
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
    if budget.measure == Budget.Measure.CREDITS:
        value = Decimal(value).normalize()
        count = int(value) if value == value.to_integral_value() else 2
        return ngettext("%(n)s credit", "%(n)s credits", count) % {"n": f"{value:f}"}
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
