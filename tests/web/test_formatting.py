"""The pages' own fast paths for Django's formatting (studio.templatetags.studio) and the
<select> template (templates/django/forms/widgets/select.html) give what Django gives."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils import dateformat, formats, timezone, translation
from django.utils.text import Truncator

from studio.templatetags.studio import date_formatter, format_pieces, truncated

LANGUAGES = ("en", "zh-hans")
FORMATS = (
    "DATE_FORMAT",
    "SHORT_DATE_FORMAT",
    "DATETIME_FORMAT",
    "SHORT_DATETIME_FORMAT",
    "YEAR_MONTH_FORMAT",
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_truncated_cuts_where_truncatechars_does(language):
    # Chinese ends a cut text with "..." (three characters), English with "…" (one).
    texts = ["a lighthouse at dusk, " * n for n in (1, 3, 7, 12)]
    texts += ["灯塔 at dusk, " * 20, "cafe\u0301 au lait, " * 20]  # not ASCII: Django's own walk
    with translation.override(language):
        for text in texts:
            for length in (1, 3, 4, 20, 59, 60, 61, 140, 150):
                assert truncated(text, length) == Truncator(text).chars(length), (text, length)
        assert truncated("x" * 200, 60).endswith("..." if language == "zh-hans" else "…")


@pytest.mark.parametrize("language", LANGUAGES)
def test_date_formatter_writes_what_the_date_filter_writes(language):
    # Midnight and noon in Shanghai ("P" writes them as words), and an afternoon minute.
    moments = [datetime(2026, 12, 5, h, m, tzinfo=UTC) for h, m in ((16, 0), (4, 0), (7, 7))]
    with translation.override(language), timezone.override("Asia/Shanghai"):
        for name in FORMATS:
            written = date_formatter(name)
            for moment in moments:
                local = timezone.localtime(moment)
                assert written(local) == formats.date_format(local, name), (name, moment)
        day = date(2026, 1, 31)
        assert date_formatter("YEAR_MONTH_FORMAT")(day) == formats.date_format(
            day, "YEAR_MONTH_FORMAT"
        )


def test_format_pieces_keep_escaped_letters_as_text():
    # Spanish writes "5 de diciembre de 2026": letters escaped so as not to be codes.
    moment = datetime(2026, 12, 5, 15, 7)
    for pattern in (r"j \d\e F \d\e Y", r"\H\o\y: Y-m-d H:i", "Y年n月j日 H:i", "P"):
        pieces = format_pieces(pattern)
        parts = dateformat.DateFormat(moment)
        written = "".join(str(getattr(parts, p)()) if code else p for code, p in pieces)
        assert written == dateformat.format(moment, pattern), pattern


class Choices(forms.Form):
    vendor = forms.ChoiceField(
        choices=[("", "Any"), ("aioagi", "AIOAGI"), ("a&b", "A & <b>")], required=False
    )
    size = forms.ChoiceField(
        choices=[("Square", [("1024x1024", "1024²")]), ("Wide", [("1536x1024", "1536 × 1024")])],
        widget=forms.Select(attrs={"class": "wide", "data-x": 'say "hi"', "disabled": True}),
    )
    sizes = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B")], required=False)


def squeezed(html: str) -> str:
    return re.sub(r">\s+<", "><", html).strip()


@pytest.mark.parametrize(
    "data", [{}, {"vendor": "a&b", "size": "1536x1024", "sizes": ["a", "b"]}, {"vendor": "x"}]
)
def test_the_select_template_writes_what_django_writes(data):
    form = Choices(data or None)
    django_own = Choices(data or None, renderer=DjangoTemplates())
    for name in ("vendor", "size", "sizes"):
        ours = str(form[name])
        assert "<option" in ours and 'name="' + name + '"' in ours
        assert squeezed(ours) == squeezed(str(django_own[name])), name
