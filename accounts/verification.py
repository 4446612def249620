"""Verified email addresses (STUDIO_EMAIL_VERIFICATION): who has one, and the sentence that
asks for one where the studio needs it (joining a team, sharing a key with a team)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _


def has_verified_email(user) -> bool:
    if settings.STUDIO_EMAIL_VERIFICATION == "none":
        return True
    return EmailAddress.objects.filter(user_id=user.pk, verified=True).exists()


def needs_verified_email(action: str) -> SafeString:
    """One sentence, with the link to verify, for an action refused until the user does."""
    return format_html(
        '{} <a href="{}">{}</a>',
        _("%(action)s needs a verified email address.") % {"action": action},
        reverse("account_email"),
        _("Verify your email address"),
    )


def email_verification(request) -> dict:
    """Template context: whether to ask this user to verify (a banner on every page). Lazy:
    a page that does not show the banner runs no query."""

    def unverified() -> bool:
        user = getattr(request, "user", None)
        return bool(user and user.is_authenticated and not has_verified_email(user))

    return {"email_unverified": unverified}
