"""Ids and days read from requests, range-checked before they reach a query or a date sum.

A number past the primary keys' range, given to the database driver, is an OverflowError (SQLite)
or a type error (PostgreSQL): a 500 where an unknown id should be a 404. Django range-checks
`pk=` lookups itself, but not `pk__in`, foreign keys or inserts, so every id from a URL, a query
string or a form goes through here: `<id:pk>` in URLconfs, `parse_id`/`get_id` for query
parameters, `IdsField` and `DayField` in forms.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import Http404, QueryDict
from django.urls import reverse

# Every model of ours has a BigAutoField key (DEFAULT_AUTO_FIELD): 1 to 2**63 - 1, on SQLite and
# PostgreSQL alike.
ID_MAX = 2**63 - 1
# The day filters add a day to the last day and take the start of each in the local time zone:
# past these, that is a date or datetime Python cannot represent.
FIRST_DAY = date(1, 1, 2)
LAST_DAY = date(9999, 12, 30)


class IdField(forms.IntegerField):
    """A primary key: a whole number from 1 to ID_MAX."""

    def __init__(self, **kwargs) -> None:
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)


def parse_id(value: object) -> int | None:
    """`value` as a primary key, or None when it cannot be one."""
    try:
        return IdField().clean(value)
    except ValidationError:
        return None


def get_id(query: QueryDict, name: str) -> int:
    """The id in `query[name]`. A missing or impossible one is a 404, as another user's is."""
    pk = parse_id(query.get(name))
    if pk is None:
        raise Http404
    return pk


class IdConverter:
    """`<id:pk>`: `<int:pk>` that does not match a number no primary key can be (a 404)."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        pk = parse_id(value)
        if pk is None:
            raise ValueError(value)
        return pk

    def to_url(self, value: int) -> str:
        return str(value)


# An id that no row has: `id_urls` reverses with it, then replaces it by each row's id.
PLACEHOLDER = "9876543210123"


def id_urls(view: str) -> Callable[[int], str]:
    """`reverse(view, args=[pk])` for a page of rows, reversed once: `{% url %}` for each link
    of each row was half the gallery's page time (benchmarks/README.md, million)."""
    url = reverse(view, args=[PLACEHOLDER])
    return lambda pk: url.replace(PLACEHOLDER, str(pk))


class ListedChoices(forms.models.ModelChoiceIterator):
    """A ModelChoiceField's choices read in one query. Django's iterator reads them with
    QuerySet.iterator(), which on PostgreSQL is a server-side cursor: DECLARE, FETCH and CLOSE,
    three round trips (2.6 ms of the gallery's page for a handful of collections:
    benchmarks/README.md, million). A form's choices are few; they are kept on the field's
    queryset, so a second rendering asks no query."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class ChoiceOfField(forms.ModelChoiceField):
    """A ModelChoiceField whose choices are read in one query (ListedChoices)."""

    iterator = ListedChoices


class IdsField(forms.ModelMultipleChoiceField):
    """ModelMultipleChoiceField whose ids are range-checked before its `pk__in` query."""

    def clean(self, value):
        for pk in value if isinstance(value, list | tuple) else ():
            if parse_id(pk) is None:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super().clean(value)


class DayField(forms.DateField):
    """A date whose start, and the next day's, exist in any time zone."""

    default_validators = [MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)]
