"""Teams: who is in which team, invitations, and the rules that keep every team with an owner.

Views (accounts/teams.py) parse, authorize and render; the rules live here.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Membership, Team, TeamEvent, TeamInvite
from accounts.tokens import new_token, token_hash

INVITE_LINK_LIFETIME = timedelta(days=7)
Role = Membership.Role


class TeamRuleBroken(Exception):
    """An action the team's rules refuse; the message is safe to show the user."""


def create_team(user: User, name: str) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name)
        Membership.objects.create(team=team, user=user, role=Role.OWNER)
    return team


def membership(user: User, team: Team) -> Membership | None:
    return Membership.objects.filter(user=user, team=team).first()


def is_member(user: User, team_id: int) -> bool:
    return user.is_authenticated and Membership.objects.filter(user=user, team_id=team_id).exists()


# --- Invitations ---------------------------------------------------------------------------------


def invite_user(team: Team, by: User, invitee: User) -> TeamInvite:
    if Membership.objects.filter(team=team, user=invitee).exists():
        raise TeamRuleBroken(_("%(user)s is already in this team.") % {"user": invitee})
    pending = open_invites(team).filter(invitee=invitee).first()
    if pending is not None:
        return pending
    return TeamInvite.objects.create(team=team, created_by=by, invitee=invitee)


def create_invite_link(team: Team, by: User) -> tuple[TeamInvite, str]:
    """A single-use invite link; the token is returned once and never stored."""
    token, hashed = new_token()
    invite = TeamInvite.objects.create(
        team=team,
        created_by=by,
        token_hash=hashed,
        expires_at=timezone.now() + INVITE_LINK_LIFETIME,
    )
    return invite, token


def open_invites(team: Team):
    now = timezone.now()
    return (
        TeamInvite.objects.filter(
            team=team, accepted_at=None, declined_at=None, canceled_at=None
        ).exclude(expires_at__lte=now)
    ).select_related("invitee")


def invites_for(user: User):
    """Invitations by username waiting for `user`'s answer."""
    return TeamInvite.objects.filter(
        invitee=user, accepted_at=None, declined_at=None, canceled_at=None
    ).select_related("team", "created_by")


def invite_by_token(token: str) -> TeamInvite | None:
    return TeamInvite.objects.select_related("team").filter(token_hash=token_hash(token)).first()


def invite_problem(invite: TeamInvite, user: User) -> str | None:
    """Why `user` cannot answer `invite` now, in words for them; None when they can."""
    if invite.accepted_at:
        return _("This invitation has already been used.")
    if invite.declined_at:
        return _("This invitation was declined, so it cannot be used again.")
    if invite.canceled_at:
        return _("This invitation was withdrawn by the team.")
    if invite.is_expired():
        return _("This invitation has expired. Ask a team owner for a new one.")
    if invite.invitee_id is not None and invite.invitee_id != user.pk:
        # Not reached through the views (they 404), kept for safety.
        return _("This invitation is for someone else.")
    return None


def accept_invite(invite: TeamInvite, user: User) -> Membership:
    if Membership.objects.filter(team_id=invite.team_id, user=user).exists():
        raise TeamRuleBroken(_("You are already in %(team)s.") % {"team": invite.team})
    problem = invite_problem(invite, user)
    if problem is not None:
        raise TeamRuleBroken(problem)
    try:
        with transaction.atomic():
            # Claimed with a conditional update: of two people racing for one link, one wins.
            if not _claim(invite, accepted_at=timezone.now(), used_by=user):
                raise TeamRuleBroken(_("This invitation has already been used."))
            return Membership.objects.create(team_id=invite.team_id, user=user)
    except IntegrityError:
        # Joined by another way in the meantime; the rollback leaves the invite unused.
        raise TeamRuleBroken(_("You are already in %(team)s.") % {"team": invite.team}) from None


def decline_invite(invite: TeamInvite, user: User) -> None:
    problem = invite_problem(invite, user)
    if problem is not None:
        raise TeamRuleBroken(problem)
    if not _claim(invite, declined_at=timezone.now(), used_by=user):
        raise TeamRuleBroken(_("This invitation has already been used."))


def cancel_invite(invite: TeamInvite) -> None:
    _claim(invite, canceled_at=timezone.now())


def _claim(invite: TeamInvite, **fields) -> bool:
    updated = TeamInvite.objects.filter(
        pk=invite.pk, accepted_at=None, declined_at=None, canceled_at=None
    ).update(**fields)
    for name, value in fields.items():
        setattr(invite, name, value)
    return updated == 1


# --- Members ------------------------------------------------------------------------------------


def leave_team(member: Membership) -> bool:
    """Takes `member` out of their team. Returns True when the team, left empty, was deleted."""
    team = member.team
    others = Membership.objects.filter(team=team).exclude(pk=member.pk)
    if not others.exists():
        team.delete()
        return True
    if member.is_owner and not others.filter(role=Role.OWNER).exists():
        raise TeamRuleBroken(
            _("You are this team's only owner: make someone else an owner before you leave.")
        )
    member.delete()
    return False


def remove_member(owner: Membership, member: Membership) -> None:
    if member.team_id != owner.team_id or not owner.is_owner:
        raise TeamRuleBroken(_("Only an owner of this team can remove its members."))
    if member.pk == owner.pk:
        raise TeamRuleBroken(_("To take yourself out of a team, leave it."))
    member.delete()


def make_owner(owner: Membership, member: Membership) -> None:
    if member.team_id != owner.team_id or not owner.is_owner:
        raise TeamRuleBroken(_("Only an owner of this team can name owners."))
    Membership.objects.filter(pk=member.pk).update(role=Role.OWNER)
    member.role = Role.OWNER


# --- Sign-in rule (accounts/policy.py) ----------------------------------------------------------


def set_rule(owner: Membership, requires: str) -> bool:
    """Sets what members must sign in with to use the team's keys, in the team's trail.
    Returns False when nothing changed."""
    if not owner.is_owner:
        raise TeamRuleBroken(_("Only an owner of this team can change its sign-in rule."))
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=owner.team_id)
        if team.requires == requires:
            return False
        before = team.requires
        team.requires = requires
        team.save(update_fields=["requires"])
        # In English, like the other audit trails: it is a record, not an interface.
        with translation.override("en"):
            message = (
                f"{owner.user.get_username()} changed the sign-in rule for team keys from "
                f"“{Team.Requires(before).label}” to “{Team.Requires(requires).label}”"
            )
        TeamEvent.objects.create(team=team, by=owner.user, message=message)
    owner.team = team
    return True
