"""Money's rows: dated prices, budgets and their reservations, keys shared with a team."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

CURRENCY = re.compile(r"^[A-Z]{3}$")


class Price(models.Model):
    """What one unit of a vendor's spend costs in money from a given day on.

    Blank model, size or quality means "any"; the most specific row wins. A row with a
    credential is that key's owner's own price (a reseller's), and beats the operator's."""

    class Per(models.TextChoices):
        IMAGE = "images", _("per image")
        CREDIT = "credits", _("per vendor credit")
        TOKENS = "tokens", _("per 1,000 tokens")

    vendor = models.CharField(_("vendor"), max_length=32)
    model = models.CharField(_("model"), max_length=100, blank=True)
    size = models.CharField(_("size"), max_length=20, blank=True)
    quality = models.CharField(_("quality"), max_length=20, blank=True)
    per = models.CharField(_("unit"), max_length=10, choices=Per)
    amount = models.DecimalField(_("price"), max_digits=14, decimal_places=6)
    currency = models.CharField(_("currency"), max_length=3)
    valid_from = models.DateField(_("valid from"))
    source = models.CharField(_("source"), max_length=300, blank=True)
    credential = models.ForeignKey(
        "accounts.Credential", models.CASCADE, null=True, blank=True, related_name="prices"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["vendor", "model", "size", "quality", "-valid_from", "pk"]
        indexes = [models.Index(fields=["vendor", "per", "valid_from"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.model or '*'} {self.amount} {self.currency} {self.per}"

    def clean(self) -> None:
        """The one place a price's values are checked: the operator's admin and a user's own
        price form both call it (through full_clean)."""
        from studio.vendors import ADAPTERS

        errors = {}
        self.currency = (self.currency or "").strip().upper()
        if not CURRENCY.match(self.currency):
            errors["currency"] = _("Three letters, as in ISO 4217: CNY, USD, EUR.")
        if self.amount is not None and self.amount < 0:
            errors["amount"] = _("A price cannot be negative.")
        # A blank vendor is the field's own "required" error (or the form's missing key).
        if self.vendor and (self.vendor not in ADAPTERS or self.vendor == "demo"):
            errors["vendor"] = _("Choose one of the studio's vendors: %(vendors)s.") % {
                "vendors": ", ".join(v for v in ADAPTERS if v != "demo")
            }
        for name in ("model", "size", "quality"):
            setattr(self, name, (getattr(self, name) or "").strip())
        if errors:
            raise ValidationError(errors)


class Budget(models.Model):
    """A limit on spend in one period: on a user's own keys, on each member of a team key,
    or on a team key in total."""

    class Scope(models.TextChoices):
        OWN = "own", _("My own use of my keys")
        MEMBER = "member", _("Each member on a team key")
        KEY = "key", _("A team key in total")

    class Measure(models.TextChoices):
        MONEY = "money", _("money")
        IMAGES = "images", _("images")
        CREDITS = "credits", _("vendor credits")
        TOKENS = "tokens", _("vendor tokens")

    class Period(models.TextChoices):
        MONTH = "month", _("Calendar month")
        DAYS = "days", _("Every N days")

    # Who set it: the user for their own use, the key's owner for a team key.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    scope = models.CharField(_("applies to"), max_length=10, choices=Scope)
    # For "own": one key, or blank for all of the owner's keys. For team budgets: the key.
    credential = models.ForeignKey(
        "accounts.Credential", models.CASCADE, null=True, blank=True, related_name="budgets"
    )
    measure = models.CharField(_("measured in"), max_length=10, choices=Measure)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    limit = models.DecimalField(_("limit"), max_digits=14, decimal_places=6)
    period = models.CharField(_("period"), max_length=10, choices=Period, default=Period.MONTH)
    period_days = models.PositiveSmallIntegerField(_("days"), null=True, blank=True)
    starts_on = models.DateField(_("starting on"), default=timezone.localdate)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scope", "credential_id", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(limit__gte=0), name="budget_not_negative"),
            models.CheckConstraint(
                condition=Q(scope="own") | Q(credential__isnull=False),
                name="team_budget_has_a_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()}: {self.limit} {self.currency or self.measure}"


class Reservation(models.Model):
    """A job's estimate held against a budget from its creation, settled to the real spend
    once the job has ended."""

    budget = models.ForeignKey(Budget, models.CASCADE, related_name="reservations")
    generation = models.ForeignKey("studio.Generation", models.CASCADE, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=6)
    # The real spend, once known; until then the estimate counts.
    spent = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["budget", "generation"], name="reserve_once"),
        ]
        indexes = [models.Index(fields=["budget", "created_at"])]

    def __str__(self) -> str:
        return f"{self.amount} for job {self.generation_id}"


class KeyShare(models.Model):
    """A vault key its owner lets a team's members use, without ever showing it to them."""

    credential = models.ForeignKey("accounts.Credential", models.CASCADE, related_name="shares")
    team = models.ForeignKey("accounts.Team", models.CASCADE, related_name="key_shares")
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "team"],
                condition=Q(stopped_at__isnull=True),
                name="one_live_share_per_key_and_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.credential} → {self.team}"


class BudgetEvent(models.Model):
    """The budgets' audit trail: who set, changed or removed which limit, in words."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    credential = models.ForeignKey(
        "accounts.Credential", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.message


class MonthlySpend(models.Model):
    """The money spent in one month that is over, per spender, key, vendor, model, kind and
    currency: the credits page's totals read these few rows instead of the whole ledger.

    Ledger rows are append-only and valued when written, so a month that is over never
    changes: it is rolled up once (studio.money.services.roll_up_closed_months) and its totals
    stay exact whatever prices change later."""

    month = models.DateField()  # its first day, in the studio's time zone
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    # The key's id as the ledger row had it, not a foreign key: a deleted key's spend stays,
    # as it does on the ledger rows (the page shows it without a key, as it does them).
    credential_id = models.BigIntegerField(null=True, blank=True)
    vendor = models.CharField(max_length=32)
    model = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=16)
    # Rows without a price are rolled up too (blank currency, no total): their units count in
    # each key's spend on the credits page, which then reads these rows and the live month
    # instead of a user's whole ledger (117,000 rows at 100,000 images: benchmarks/README.md,
    # million).
    currency = models.CharField(max_length=3, blank=True)
    total = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    unit = models.CharField(max_length=16, blank=True)
    amount = models.DecimalField(max_digits=20, decimal_places=6, default=0)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "month"], name="monthly_spend_owner"),
            models.Index(fields=["credential_id", "month"], name="monthly_spend_key"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.vendor} {self.total} {self.currency}"


class DailySpend(models.Model):
    """The spend of one day that is over, per spender, key, vendor, kind, unit and currency:
    the credits page's 30-day charts read these rows, and the ledger's own only for the last
    two days, instead of 30 days of ledger rows (9,341 for a user with 100,000 images, the
    page's slowest query: benchmarks/README.md, million).

    Rolled up once, like MonthlySpend (studio.money.services.roll_up_closed_days). Only the
    charts' days are kept: older ones are deleted as new ones are rolled up."""

    day = models.DateField()  # in the studio's time zone
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    credential_id = models.BigIntegerField(null=True, blank=True)  # as in MonthlySpend
    vendor = models.CharField(max_length=32)
    kind = models.CharField(max_length=16)
    unit = models.CharField(max_length=16, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    amount = models.DecimalField(max_digits=20, decimal_places=6, default=0)
    total = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "day"], name="daily_spend_owner"),
            models.Index(fields=["credential_id", "day"], name="daily_spend_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.vendor} {self.amount} {self.unit}"


class RolledDay(models.Model):
    """A day whose spend is in DailySpend: rolled up exactly once, as RolledMonth."""

    day = models.DateField(unique=True)
    rolled_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.day}"


class RolledMonth(models.Model):
    """A month whose spend is in MonthlySpend: rolled up exactly once (the unique month makes
    a second, concurrent roll-up fail and roll back)."""

    month = models.DateField(unique=True)
    rolled_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"
