"""The /teams/ pages: create a team, invite by username or single-use link, answer invitations,
leave, and (owners) remove members and name owners.

Every view fetches the team through the viewer's own membership, so another team's id is a
404. Rules (who may leave, single use of invites) live in accounts.membership.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import membership as teams
from accounts.models import Membership, Team, TeamInvite
from accounts.policy import policy_problem
from accounts.verification import has_verified_email, needs_verified_email


class TeamForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Team name"), max_length=100)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(gettext_lazy("Give the team a name."))
        return name


class InviteForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(gettext_lazy("There is no user with this username."))
        return user


class RuleForm(forms.Form):
    requires = forms.ChoiceField(
        label=gettext_lazy("Members must use, to use the team's keys"),
        choices=Team.Requires.choices,
        widget=forms.RadioSelect,
        required=False,
    )

    def clean_requires(self) -> str:
        requires = self.cleaned_data["requires"]
        if requires == Team.Requires.SSO and not settings.STUDIO_SSO_PROVIDER_IDS:
            raise forms.ValidationError(
                gettext_lazy("This studio has no single sign-on provider set up.")
            )
        return requires


def _get_membership(request: HttpRequest, team_pk: int) -> Membership:
    """The viewer's membership of the team: a team they are not in is a 404."""
    return get_object_or_404(
        Membership.objects.select_related("team"), team_id=team_pk, user=request.user
    )


def _get_ownership(request: HttpRequest, team_pk: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("team"),
        team_id=team_pk,
        user=request.user,
        role=Membership.Role.OWNER,
    )


def _get_invite_for_invitee(request: HttpRequest, pk: int) -> TeamInvite:
    return get_object_or_404(TeamInvite.objects.select_related("team"), pk=pk, invitee=request.user)


def _back(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _team_page(request: HttpRequest, member: Membership, **extra) -> HttpResponse:
    team = member.team
    ctx = {
        "team": team,
        "me": member,
        "memberships": team.memberships.select_related("user"),
        "invites": teams.open_invites(team) if member.is_owner else [],
        "invite_form": InviteForm(),
        "rule_form": RuleForm(initial={"requires": team.requires}),
        "rule_problem": policy_problem(request.user, team),
        "team_events": team.events.all()[:10],
        **extra,
    }
    return render(request, "accounts/teams_detail.html", ctx)


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = teams.create_team(request.user, form.cleaned_data["name"])
        messages.success(request, _("Created the team %(team)s.") % {"team": team})
        return _back(request, f"/teams/{team.pk}/")
    if request.htmx and request.method == "POST":
        return render(request, "accounts/teams.html#team-form", {"form": form})
    ctx = {
        "form": form,
        "memberships": Membership.objects.filter(user=request.user).select_related("team"),
        "invites": teams.invites_for(request.user),
    }
    return render(request, "accounts/teams.html", ctx)


@login_required
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _team_page(request, _get_membership(request, pk))


@require_POST
@login_required
def invite_member(request: HttpRequest, pk: int) -> HttpResponse:
    owner = _get_ownership(request, pk)
    form = InviteForm(request.POST)
    if form.is_valid():
        invitee = form.cleaned_data["username"]
        try:
            teams.invite_user(owner.team, request.user, invitee)
        except teams.TeamRuleBroken as exc:
            form.add_error("username", str(exc))
        else:
            messages.success(
                request,
                _("Invited %(user)s. They can accept on their Teams page.") % {"user": invitee},
            )
            return _back(request, f"/teams/{pk}/")
    if request.htmx:
        ctx = {"team": owner.team, "invite_form": form}
        return render(request, "accounts/teams_detail.html#invite-form", ctx)
    return _team_page(request, owner, invite_form=form)


@never_cache
@require_POST
@login_required
def create_invite_link(request: HttpRequest, pk: int) -> HttpResponse:
    owner = _get_ownership(request, pk)
    invite, token = teams.create_invite_link(owner.team, request.user)
    # The token is in this response only: it is never stored, so it cannot be shown again.
    url = request.build_absolute_uri(f"/teams/join/{token}/")
    return _team_page(request, owner, new_invite=invite, new_invite_url=url)


@require_POST
@login_required
def cancel_invite(request: HttpRequest, pk: int, invite_pk: int) -> HttpResponse:
    owner = _get_ownership(request, pk)
    invite = get_object_or_404(TeamInvite, pk=invite_pk, team=owner.team)
    teams.cancel_invite(invite)
    messages.success(request, _("Withdrew the invitation."))
    return _back(request, f"/teams/{pk}/")


@require_POST
@login_required
def remove_member(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    owner = _get_ownership(request, pk)
    member = get_object_or_404(Membership.objects.select_related("user"), pk=member_pk, team_id=pk)
    try:
        teams.remove_member(owner, member)
    except teams.TeamRuleBroken as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Removed %(user)s from the team.") % {"user": member.user})
    return _back(request, f"/teams/{pk}/")


@require_POST
@login_required
def make_owner(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    owner = _get_ownership(request, pk)
    member = get_object_or_404(Membership.objects.select_related("user"), pk=member_pk, team_id=pk)
    teams.make_owner(owner, member)
    messages.success(request, _("%(user)s is now an owner of the team.") % {"user": member.user})
    return _back(request, f"/teams/{pk}/")


@require_POST
@login_required
def leave_team(request: HttpRequest, pk: int) -> HttpResponse:
    member = _get_membership(request, pk)
    name = member.team.name
    try:
        teams.leave_team(member)
    except teams.TeamRuleBroken as exc:
        messages.error(request, str(exc))
        return _back(request, f"/teams/{pk}/")
    messages.success(request, _("You left %(team)s.") % {"team": name})
    return _back(request, "/teams/")


@require_POST
@login_required
def set_rule(request: HttpRequest, pk: int) -> HttpResponse:
    owner = _get_ownership(request, pk)
    form = RuleForm(request.POST)
    if not form.is_valid():
        return _team_page(request, owner, rule_form=form)
    if teams.set_rule(owner, form.cleaned_data["requires"]):
        messages.success(request, _("Saved the team's sign-in rule."))
    return _back(request, f"/teams/{pk}/")


@require_POST
@login_required
def answer_invite(request: HttpRequest, pk: int, answer: str) -> HttpResponse:
    invite = _get_invite_for_invitee(request, pk)
    return _answer(request, invite, answer)


@never_cache
@login_required
def join(request: HttpRequest, token: str) -> HttpResponse:
    """A single-use invite link. Unknown tokens are a 404; used or expired ones say so."""
    invite = teams.invite_by_token(token)
    if invite is None:
        raise Http404
    if request.method == "POST":
        return _answer(request, invite, request.POST.get("answer", ""))
    already = Membership.objects.filter(team_id=invite.team_id, user=request.user).exists()
    problem = None if already else teams.invite_problem(invite, request.user)
    ctx = {"invite": invite, "problem": problem, "already_member": already}
    if not already and not problem and not has_verified_email(request.user):
        ctx["unverified"] = needs_verified_email(_("Joining a team"))
    return render(request, "accounts/teams_join.html", ctx, status=410 if problem else 200)


def _answer(request: HttpRequest, invite: TeamInvite, answer: str) -> HttpResponse:
    team = invite.team
    if answer == "accept" and not has_verified_email(request.user):
        messages.error(request, needs_verified_email(_("Joining a team")))
        return _back(request, "/teams/")
    try:
        if answer == "accept":
            teams.accept_invite(invite, request.user)
        elif answer == "decline":
            teams.decline_invite(invite, request.user)
        else:
            raise Http404
    except teams.TeamRuleBroken as exc:
        messages.error(request, str(exc))
        return _back(request, "/teams/")
    if answer == "accept":
        messages.success(request, _("You joined %(team)s.") % {"team": team})
        return _back(request, f"/teams/{team.pk}/")
    messages.info(request, _("You declined the invitation to %(team)s.") % {"team": team})
    return _back(request, "/teams/")
