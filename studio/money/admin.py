"""Admin: operators edit the price book; budgets, shares and the budget log are view-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q

from accounts.admin import ViewOnlyAdmin
from studio.money.models import Budget, BudgetEvent, KeyShare, Price


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """The operator's price book. A row that spend already points at is kept: ledger rows
    keep the price of their day, so a new price is a new row with a later "valid from"."""

    list_display = (
        "vendor",
        "model",
        "size",
        "quality",
        "per",
        "amount",
        "currency",
        "valid_from",
        "source",
        "credential",
    )
    list_filter = ("vendor", "per", "currency")
    search_fields = ("vendor", "model", "source")
    fields = (
        "vendor",
        "model",
        "size",
        "quality",
        "per",
        "amount",
        "currency",
        "valid_from",
        "source",
    )

    def get_queryset(self, request):
        # Users' own prices for their keys are theirs to edit, on the money page.
        return super().get_queryset(request).filter(Q(credential__isnull=True))


@admin.register(Budget)
class BudgetAdmin(ViewOnlyAdmin):
    list_display = ("owner", "scope", "credential", "measure", "limit", "currency", "period")
    list_filter = ("scope", "measure", "period")
    search_fields = ("owner__username",)


@admin.register(KeyShare)
class KeyShareAdmin(ViewOnlyAdmin):
    list_display = ("credential", "team", "shared_by", "created_at", "stopped_at")
    search_fields = ("team__name", "shared_by__username")


@admin.register(BudgetEvent)
class BudgetEventAdmin(ViewOnlyAdmin):
    list_display = ("created_at", "owner", "message")
    search_fields = ("owner__username", "message")
