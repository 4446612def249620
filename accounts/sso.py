"""Single sign-on through the OpenID Connect providers the operator configured from the
environment (studio/settings.py, STUDIO_OIDC_PROVIDERS; docs/deploy.md).

allauth's socialaccount does the protocol (discovery, PKCE, the code exchange, the ID token's
signature). Here: who may sign up (STUDIO_SSO_ALLOWED_DOMAINS, on an address the provider
vouches for), which teams a new SSO user joins (STUDIO_SSO_TEAM_DOMAINS, STUDIO_SSO_TEAM_GROUPS),
and whether password sign-in is offered at all (STUDIO_PASSWORD_LOGIN).
"""

from __future__ import annotations

import logging
from functools import wraps
from urllib.parse import urlsplit

import requests
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.openid_connect import views as oidc
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from accounts import adapters, forms
from accounts.models import Membership, Team, TeamEvent

log = logging.getLogger(__name__)


def claims(sociallogin) -> dict:
    """What the provider said about the user: its userinfo reply, else the ID token's claims."""
    data = sociallogin.account.extra_data or {}
    return data.get("userinfo") or data.get("id_token") or data


def vouched_email(sociallogin) -> str | None:
    """The address the provider says it verified; an unverified one proves no domain."""
    for address in sociallogin.email_addresses:
        if address.verified and "@" in address.email:
            return address.email.lower()
    return None


def domain_of(email: str | None) -> str:
    return email.rsplit("@", 1)[1] if email else ""


def signup_problem(sociallogin) -> str | None:
    """Why this SSO sign-in may not create an account here, in one sentence; None if it may."""
    allowed = settings.STUDIO_SSO_ALLOWED_DOMAINS
    if not allowed:
        return None
    email = vouched_email(sociallogin)
    if domain_of(email) in allowed:
        return None
    domains = ", ".join(allowed)
    if email is None:
        return _(
            "This studio lets only people with a verified address at %(domains)s sign up, and "
            "your provider did not vouch for an address."
        ) % {"domains": domains}
    return _(
        "This studio lets only people with an address at %(domains)s sign up, and you signed "
        "in as %(email)s."
    ) % {"domains": domains, "email": email}


def teams_for(sociallogin) -> list[tuple[str, str]]:
    """(team name, why) for each team a new SSO user joins, by email domain and groups claim."""
    found = []
    domain = domain_of(vouched_email(sociallogin))
    if domain in settings.STUDIO_SSO_TEAM_DOMAINS:
        found.append((settings.STUDIO_SSO_TEAM_DOMAINS[domain], f"email domain {domain}"))
    claim = sociallogin.provider.app.settings.get("groups_claim")
    if claim:
        groups = claims(sociallogin).get(claim) or []
        for group in [groups] if isinstance(groups, str) else groups:
            if str(group) in settings.STUDIO_SSO_TEAM_GROUPS:
                found.append((settings.STUDIO_SSO_TEAM_GROUPS[str(group)], f"group {group}"))
    return found


def join_teams(user, sociallogin) -> list[Team]:
    joined = []
    for name, why in teams_for(sociallogin):
        # The team must exist (an owner made it): a team made here would have no owner.
        team = Team.objects.filter(name=name).order_by("pk").first()
        if team is None:
            log.warning("SSO: no team named %r for %s; set it up first", name, why)
            continue
        try:
            with transaction.atomic():
                Membership.objects.create(team=team, user=user)
        except IntegrityError:
            continue  # already in it (two rules naming one team)
        TeamEvent.objects.create(
            team=team,
            by=user,
            message=f"{user.get_username()} joined through single sign-on ({why})",
        )
        joined.append(team)
    return joined


def refusal(request, problem: str, status: int):
    return render(request, "accounts/sso_refused.html", {"problem": problem}, status=status)


def answered(view):
    """allauth's OpenID views, with a provider that does not answer (its discovery document or
    token endpoint down) said in a sentence rather than a server error."""

    @wraps(view)
    def guarded(request, provider_id: str):
        origin = provider_origin(provider_id)
        if origin is None:
            # Not a configured provider: a 404 here, before allauth looks the id up in the
            # database (where a NUL in it is PostgreSQL's error, not an empty answer).
            raise Http404
        try:
            response = view(request, provider_id)
        except requests.RequestException as exc:
            log.warning("SSO: provider %s did not answer: %s", provider_id, type(exc).__name__)
            return refusal(
                request,
                _(
                    "The single sign-on provider did not answer. Try again in a moment; if it "
                    "keeps happening, tell the studio's operator."
                ),
                502,
            )
        # The "continue" page's form posts here and is redirected on to the provider: the
        # site's CSP (form-action 'self') would stop a browser at that redirect.
        response._csp_update = {"form-action": [origin]}
        return response

    return guarded


def provider_origin(provider_id: str) -> str | None:
    """The configured provider's origin (its server_url's), where its sign-in page is: true of
    Google, Entra, Keycloak and Authentik, whose authorization endpoint sits beside the issuer."""
    for app in settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS", []):
        if app["provider_id"] == provider_id:
            url = urlsplit(app["settings"]["server_url"])
            return f"{url.scheme}://{url.netloc}"
    return None


# In place of allauth's build_provider_urlpatterns() for openid_connect (accounts/urls.py).
urlpatterns = [
    path("oidc/<str:provider_id>/login/", answered(oidc.login), name="openid_connect_login"),
    path(
        "oidc/<str:provider_id>/login/callback/",
        answered(oidc.callback),
        name="openid_connect_callback",
    ),
]


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        # Open even when password sign-up is closed (STUDIO_PASSWORD_LOGIN=false): the domain
        # rule below is what limits SSO sign-ups.
        return True

    def pre_social_login(self, request, sociallogin) -> None:
        if sociallogin.is_existing or sociallogin.state.get("process") == AuthProcess.CONNECT:
            return
        problem = signup_problem(sociallogin)
        if problem:
            raise ImmediateHttpResponse(refusal(request, problem, 403))

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        join_teams(user, sociallogin)
        return user


# --- Password sign-in on or off (STUDIO_PASSWORD_LOGIN) ------------------------------------------


def sign_in_choices(request) -> dict:
    """For the sign-in page: whether the password form is offered."""
    return {"password_login": settings.STUDIO_PASSWORD_LOGIN}


class AccountAdapter(adapters.AccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Sign-up with a password; SocialAccountAdapter keeps SSO sign-up open.
        return settings.STUDIO_PASSWORD_LOGIN


class LoginForm(forms.LoginForm):
    def clean(self):
        if not settings.STUDIO_PASSWORD_LOGIN:
            raise ValidationError(
                _("Password sign-in is turned off here: sign in with single sign-on.")
            )
        return super().clean()
