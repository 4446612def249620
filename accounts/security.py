"""/accounts/security/: one page for an account's safety. Also what feeds it: the signed-in
sessions (recorded at sign-in, touched at most once a minute) and the audit trail of sign-ins
and of every change to how the account signs in (allauth's and Django's signals)."""

from __future__ import annotations

import time
from importlib import import_module
from urllib.parse import quote

from allauth.account import signals as account_signals
from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import signals as auth_signals
from django.contrib.auth.decorators import login_required
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.client_ip import client_ip
from accounts.models import SecurityEvent, SignInSession
from accounts.verification import VERIFIED_KEY, has_verified_email

Kind = SecurityEvent.Kind
SEEN_EVERY = 60  # seconds between two updates of a session's "last seen"
SEEN_KEY = "studio_seen"


def client(request: HttpRequest | None) -> dict:
    if request is None:
        return {}
    return {
        "ip_address": client_ip(request) or None,
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
    }


def record(user, kind: str, request: HttpRequest | None = None, detail: str = "") -> None:
    SecurityEvent.objects.create(user=user, kind=kind, detail=detail, **client(request))


def track_session(request: HttpRequest, user) -> None:
    key = request.session.session_key
    if not key:
        request.session.save()
        key = request.session.session_key
    now = timezone.now()
    seen = {"user": user, "last_seen": now, **client(request)}
    if not SignInSession.objects.filter(session_key=key).update(**seen):
        SignInSession.objects.create(session_key=key, **seen)
    request.session[SEEN_KEY] = int(time.time())
    # The banner's answer (accounts/verification.py), refreshed with "last seen".
    request.session[VERIFIED_KEY] = has_verified_email(user)


FACTOR_NAMES = {
    Authenticator.Type.TOTP: "totp",
    Authenticator.Type.RECOVERY_CODES: "recovery_codes",
    Authenticator.Type.WEBAUTHN: "passkey",
}


# --- Signals ----------------------------------------------------------------------------------


@receiver(auth_signals.user_logged_in)
def on_signed_in(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    track_session(request, user)
    methods = [r.get("method") for r in get_authentication_records(request, user)]
    detail = "passkey" if "mfa" in methods and "password" not in methods else ""
    if "mfa" in methods and "password" in methods:
        detail = "password + two-step"
    record(user, Kind.SIGNED_IN, request, detail)


@receiver(auth_signals.user_logged_out)
def on_signed_out(sender, request, user, **kwargs):
    if request is not None and request.session.session_key:
        SignInSession.objects.filter(session_key=request.session.session_key).delete()


@receiver(auth_signals.user_login_failed)
def on_sign_in_failed(sender, credentials, request=None, **kwargs):
    from django.contrib.auth import get_user_model

    name = credentials.get("username") or credentials.get("email") or ""
    User = get_user_model()
    user = User.objects.filter(username=name).first() or (
        User.objects.filter(email__iexact=name).first() if "@" in name else None
    )
    if user is not None:
        record(user, Kind.SIGN_IN_FAILED, request)


@receiver(account_signals.password_changed)
@receiver(account_signals.password_set)
def on_password_changed(sender, request, user, **kwargs):
    record(user, Kind.PASSWORD_CHANGED, request)


@receiver(account_signals.password_reset)
def on_password_reset(sender, request, user, **kwargs):
    record(user, Kind.PASSWORD_RESET, request)


@receiver(account_signals.email_confirmed)
def on_email_confirmed(sender, request, email_address, **kwargs):
    record(email_address.user, Kind.EMAIL_VERIFIED, request)
    if request is not None and hasattr(request, "session"):
        request.session.pop(VERIFIED_KEY, None)


@receiver(mfa_signals.authenticator_added)
def on_factor_added(sender, request, user, authenticator, **kwargs):
    record(user, Kind.FACTOR_ADDED, request, FACTOR_NAMES.get(authenticator.type, ""))


@receiver(mfa_signals.authenticator_removed)
def on_factor_removed(sender, request, user, authenticator, **kwargs):
    record(user, Kind.FACTOR_REMOVED, request, FACTOR_NAMES.get(authenticator.type, ""))


@receiver(mfa_signals.authenticator_reset)
def on_factor_reset(sender, request, user, authenticator, **kwargs):
    record(user, Kind.RECOVERY_CODES_RENEWED, request)


@receiver(mfa_signals.authenticator_used)
def on_factor_used(sender, request, user, authenticator, **kwargs):
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        record(user, Kind.RECOVERY_CODE_USED, request)


# --- Middleware -------------------------------------------------------------------------------


class SessionTrackingMiddleware:
    """Keeps the signed-in session's row current ("last seen"), writing at most once a minute;
    and, where STUDIO_ADMIN_REQUIRE_MFA holds, keeps staff out of /admin/ until they have a
    second factor and used it in this session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if time.time() - request.session.get(SEEN_KEY, 0) > SEEN_EVERY:
                track_session(request, user)
            if settings.STUDIO_ADMIN_REQUIRE_MFA and request.path.startswith("/admin/"):
                refused = self.admin_refusal(request, user)
                if refused is not None:
                    return refused
        return self.get_response(request)

    @staticmethod
    def admin_refusal(request: HttpRequest, user) -> HttpResponse | None:
        if not user.is_staff:
            return None
        if not is_mfa_enabled(user):
            messages.error(
                request, _("Staff need two-step sign-in for the admin: turn it on first.")
            )
            return redirect("account_security")
        records = get_authentication_records(request, user)
        if not any(r.get("method") == "mfa" for r in records):
            messages.info(
                request, _("Confirm it is you with your second factor to open the admin.")
            )
            return redirect(f"{reverse('mfa_reauthenticate')}?next={quote(request.path)}")
        return None


# --- The page -----------------------------------------------------------------------------------

BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def browser_name(user_agent: str) -> str:
    """A short, readable name for a User-Agent ("Chrome on Linux"); the raw value is kept."""
    browser = next((name for token, name in BROWSERS if token in user_agent), "")
    system = next((name for token, name in SYSTEMS if token in user_agent), "")
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or _("Unknown browser")


@login_required
def security(request: HttpRequest) -> HttpResponse:
    user = request.user
    factors = {a.type: a for a in Authenticator.objects.filter(user=user)}
    passkeys = Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN)
    codes = factors.get(Authenticator.Type.RECOVERY_CODES)
    current = request.session.session_key
    sessions = list(SignInSession.objects.filter(user=user))
    for session in sessions:
        session.browser = browser_name(session.user_agent)
        session.is_current = session.session_key == current
    events = list(SecurityEvent.objects.filter(user=user)[:50])
    for event in events:
        event.browser = browser_name(event.user_agent)
    ctx = {
        "totp": factors.get(Authenticator.Type.TOTP),
        "recovery_codes_left": len(codes.wrap().get_unused_codes()) if codes else None,
        "passkeys": [p.wrap() for p in passkeys],
        "sessions": sessions,
        "events": events,
        "email_addresses": user.emailaddress_set.all(),
        "mfa_enabled": is_mfa_enabled(user),
    }
    return render(request, "accounts/security.html", ctx)


@require_POST
@login_required
def sign_out_others(request: HttpRequest) -> HttpResponse:
    """Deletes every other session of this account from the session store."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    others = SignInSession.objects.filter(user=request.user).exclude(
        session_key=request.session.session_key
    )
    count = 0
    for session in others:
        store(session_key=session.session_key).delete()
        count += 1
    others.delete()
    record(request.user, Kind.SIGNED_OUT_ELSEWHERE, request, str(count))
    messages.success(request, _("Signed out everywhere else (%(n)s sessions).") % {"n": count})
    return redirect("account_security")
