from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from django import template
from django.utils import formats
from django.utils.dateformat import DateFormat, re_escaped, re_formatchars
from django.utils.text import Truncator, add_truncation_text, calculate_truncate_chars_length
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

register = template.Library()


@register.filter
def minutes(value: timedelta | None) -> int:
    """Whole minutes in a duration, rounded up: "locked for 0 minutes" would be a lie."""
    if not value:
        return 0
    return math.ceil(value.total_seconds() / 60)


REASONS = {
    "bad_credential": _("The vendor did not accept the key. Check or replace it on the Keys page."),
    "insufficient_credits": _("Your account at the vendor does not have enough credits."),
    "invalid_params": _("The vendor did not accept these settings."),
    "content_policy": _("The vendor refused the prompt under its content policy."),
    "rate_limited": _("The vendor is limiting how often this key may be used."),
    "not_found": _("The vendor no longer knows this job."),
    "vendor_unavailable": _("The vendor could not be reached, or had an error."),
    "unexpected_response": _("The vendor sent a reply the studio did not understand."),
    "no_images": _("The vendor reported success but sent no images."),
    "result_lost": _("The images could not be fetched from the vendor in time."),
    "expired": _("The vendor did not finish the job in time."),
    "unknown_outcome": _("The studio cannot tell whether the vendor received the request."),
}


@register.filter
def job_reason(code: str) -> str:
    """The reason for a job's end in the reader's language (the vendor's words follow it)."""
    return REASONS.get(code, _("The job did not finish."))


@register.filter
def card_text(job):
    from studio.web.cards import card_text

    return card_text(job)


@register.filter
def clock(moment, since: bool = True) -> str:
    """Minutes and seconds from `moment` to now ("since"), or from now to `moment`: 1:05."""
    from django.utils import timezone

    if not moment:
        return ""
    seconds = (timezone.now() - moment).total_seconds()
    seconds = max(0, int(seconds if since else -seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


@register.filter
def clock_until(moment) -> str:
    return clock(moment, since=False)


@register.filter
def amount(value: Decimal | None) -> str:
    """A ledger amount without trailing zeros, grouped and punctuated for the reader's locale."""
    if value is None:
        return ""
    value = Decimal(value).normalize()
    places = max(0, -value.as_tuple().exponent)  # type: ignore[operator]
    return formats.number_format(value, decimal_pos=places, use_l10n=True, force_grouping=True)


@register.filter
def alt_text(prompt: str) -> str:
    """Alternative text for a generated image: its prompt, short enough for a screen reader."""
    return truncated(" ".join(prompt.split()), 150)


def truncated(text: str, length: int) -> str:
    """`|truncatechars`, without its per-character walk where it cannot matter: a text that
    already fits, and an ASCII text (no combining characters, which the walk leaves out of
    the count, so its cut falls where a slice's does)."""
    if len(text) <= length:
        return text
    if text.isascii():
        return add_truncation_text(text[: max(calculate_truncate_chars_length(length, None), 0)])
    return Truncator(text).chars(length)


@functools.lru_cache(maxsize=64)
def format_pieces(format_string: str) -> tuple[tuple[bool, str], ...]:
    """A date format split into DateFormat's codes and its literal text, as
    dateformat.format splits it (odd pieces are codes)."""
    return tuple(
        (True, piece) if i % 2 else (False, re_escaped.sub(r"\1", piece))
        for i, piece in enumerate(re_formatchars.split(format_string))
        if piece
    )


def date_formatter(format_name: str) -> Callable[[date], str]:
    """`|date:format_name` in the reader's language, for many dates on one page. Django's
    dateformat.format splits and unescapes the format on every call, two thirds of its time
    (a page of 48 tiles spent 5 ms on it: benchmarks/README.md, million); this splits it once
    per format."""
    pieces = format_pieces(str(formats.get_format(format_name)))

    def formatted(value: date) -> str:
        parts = DateFormat(value)
        return "".join([str(getattr(parts, p)()) if code else p for code, p in pieces])

    return formatted


@register.filter
def duration(start, end) -> str:
    if not start or not end:
        return ""
    seconds = max(0.0, (end - start).total_seconds())
    if seconds < 60:
        return _("%(seconds)s s") % {"seconds": formats.number_format(round(seconds, 1), 1)}
    return _("%(minutes)d min %(seconds)d s") % {
        "minutes": seconds // 60,
        "seconds": seconds % 60,
    }


@register.filter
def vendor_label(vendor: str) -> str:
    from studio.vendors import ADAPTERS
    from studio.web.forms import DEMO, DEMO_LABEL

    if vendor == DEMO:
        return str(DEMO_LABEL)  # the only label that is not a brand name
    adapter = ADAPTERS.get(vendor)
    return adapter.label if adapter else vendor


@register.filter
def scene_label(scene: str) -> str:
    from studio.web.forms import SCENE_LABELS

    return SCENE_LABELS.get(scene, scene)


@register.filter
def param_label(name: str) -> str:
    from studio.web.forms import PARAM_LABELS

    return PARAM_LABELS.get(name, name)


@register.filter
def option_label(value):
    """A parameter's value (low, transparent, auto…) in the reader's language."""
    from studio.web.forms import OPTION_LABELS

    return OPTION_LABELS.get(value, value) if isinstance(value, str) else value


UNITS = {
    "credits": _("credits"),
    "images": pgettext_lazy("unit", "images"),
    "tokens": pgettext_lazy("unit", "tokens"),
    # A new-api relay's balance: raw quota, or a unit the relay does not name.
    "quota": pgettext_lazy("unit", "quota"),
    "relay units": pgettext_lazy("unit", "relay units"),
}


@register.filter
def unit_label(unit: str) -> str:
    """Ledger units in the reader's language; a vendor's own unit (USD, …) as it is."""
    return UNITS.get(unit, unit)


@register.filter
def aspect_class(image) -> str:
    """The gallery tile's class for its aspect ratio, in twentieths between 1:4 and 4:1
    (static/css/gallery.css has one rule per class)."""
    if not image.width or not image.height:
        return "ar-20"
    return f"ar-{min(80, max(5, round(image.width / image.height * 20)))}"
