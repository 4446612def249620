"""Admin views of comparisons, for support: view-only, with their columns."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin import ViewOnlyAdmin
from studio.compare.models import Column, Comparison


class ColumnInline(admin.TabularInline):
    model = Column
    fields = ("position", "vendor", "model", "generation", "is_winner")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Comparison)
class ComparisonAdmin(ViewOnlyAdmin):
    list_display = ("pk", "owner", "blind", "created_at", "decided_at")
    list_filter = ("blind",)
    search_fields = ("owner__username", "prompt")
    fields = ("owner", "prompt", "aspect_ratio", "blind", "note", "created_at", "decided_at")
    inlines = [ColumnInline]
