"""The adapters' sentences in the user's language, without making the adapters need Django.

The vendors package is imported without Django (tests/vendors/test_registry.py): Django is
imported only when a sentence is made, and only translates once settings are configured."""

from __future__ import annotations


def gettext(message: str) -> str:
    from django.conf import settings

    if not settings.configured:
        return message
    from django.utils.translation import gettext as translate

    return translate(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    from django.conf import settings

    if not settings.configured:
        return singular if count == 1 else plural
    from django.utils.translation import ngettext as translate

    return translate(singular, plural, count)
