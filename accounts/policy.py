"""A team's sign-in rule: what a member must have to use the keys the team shares.

A team owner may require two-step sign-in (an allauth.mfa authenticator: TOTP or a passkey;
recovery codes alone do not count) or single sign-on (a linked account at one of the OpenID
providers the operator configured, settings.STUDIO_SSO_PROVIDER_IDS). A member who does not
meet the rule still sees the team; studio.money refuses its keys to them before anything is
sent (can_use / validate_key / key_problem), with the sentence below.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import Team

SECURITY_URL = "/accounts/security/"


def has_two_step(user) -> bool:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user, types=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])


def has_sso(user) -> bool:
    from allauth.socialaccount.models import SocialAccount

    providers = settings.STUDIO_SSO_PROVIDER_IDS
    return (
        bool(providers)
        and SocialAccount.objects.filter(user_id=user.pk, provider__in=providers).exists()
    )


def meets(user, requires: str) -> bool:
    if requires == Team.Requires.TWO_STEP:
        return has_two_step(user)
    if requires == Team.Requires.SSO:
        return has_sso(user)
    return True


def policy_problem(user, team: Team) -> str | None:
    """Why `user` may not use `team`'s shared keys, in one sentence; None when they may."""
    if meets(user, team.requires):
        return None
    if team.requires == Team.Requires.TWO_STEP:
        text = _(
            "The team “%(team)s” lets only members with two-step sign-in use its keys: turn it "
            "on in your account security (%(url)s)."
        )
    else:
        text = _(
            "The team “%(team)s” lets only members signed in with single sign-on use its keys: "
            "connect your account in your account security (%(url)s)."
        )
    return text % {"team": team.name, "url": SECURITY_URL}
