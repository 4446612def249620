"""Template filters for money and counted units, pluralised in the reader's language."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import ngettext

from studio.money import services
from studio.templatetags.studio import amount, unit_label

register = template.Library()


@register.filter
def money(value: Decimal | None, currency: str) -> str:
    return services.money(value, currency)


@register.filter
def units(value: Decimal | None, unit: str) -> str:
    """`1 image`, `2 images`, `1.5 credits`, `12,000 tokens`; other units as the vendor
    names them."""
    if value is None:
        return ""
    value = Decimal(value)
    # A fraction reads as plural in English ("1.5 credits"); ngettext wants a whole number.
    count = int(value) if value == value.to_integral_value() else 2
    number = amount(value)
    if unit == "images":
        return ngettext("%(n)s image", "%(n)s images", count) % {"n": number}
    if unit == "credits":
        return ngettext("%(n)s credit", "%(n)s credits", count) % {"n": number}
    if unit == "tokens":
        return ngettext("%(n)s token", "%(n)s tokens", count) % {"n": number}
    return f"{number} {unit_label(unit)}"
