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


VERIFIED_KEY = "studio_email_verified"


def remember(request, verified: bool) -> None:
    """Keeps the answer in the session: the banner then costs no query on most pages.
    accounts/security.py refreshes it with the session's "last seen" (once a minute) and
    when an address is confirmed."""
    request.session[VERIFIED_KEY] = verified


def email_verification(request) -> dict:
    """Template context: whether to ask this user to verify (a banner on every page)."""

    def unverified() -> bool:
        user = getattr(request, "user", None)
        if not (user and user.is_authenticated):
            return False
        if VERIFIED_KEY not in request.session:
            remember(request, has_verified_email(user))
        return not request.session[VERIFIED_KEY]

    return {"email_unverified": unverified}
