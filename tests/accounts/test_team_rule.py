"""A team's sign-in rule: an owner requires two-step sign-in (or SSO) of the members who use its
keys; a member who does not meet it sees the team but is refused its keys before anything is
sent, in one sentence that points to /accounts/security/."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.exceptions import ValidationError

from accounts import membership as teams
from accounts.models import Membership, Team, TeamEvent
from accounts.vault import add_credential
from studio.engine.services import create_generation
from studio.models import Generation
from studio.money import services
from tests.engine.conftest import KEY, engine_settings, start_fake  # noqa: F401 - fixtures
from tests.worker import wait_for

Status = Generation.Status


@pytest.fixture
def team(alice, bob):
    team = teams.create_team(alice, "Studio A")
    Membership.objects.create(team=team, user=bob)
    return team


def owner_of(team, user):
    return Membership.objects.select_related("team", "user").get(team=team, user=user)


def ended(generation) -> bool:
    return Generation.objects.get(pk=generation.pk).status in Generation.ENDED


def job(user, key, prompt="a lighthouse"):
    return create_generation(
        user, vendor="girlgenerator", credential=key, model="default", prompt=prompt
    )


def test_an_owner_sets_the_rule_on_the_team_page_and_it_is_in_the_trail(alice, bob, team, client):
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(f"/teams/{team.pk}/")
    assert "Every member can use the keys shared with this team." in page.text
    reply = client.post(f"/teams/{team.pk}/sign-in-rule/", {"requires": "two_step"})
    assert reply.status_code == 302
    team.refresh_from_db()
    assert team.requires == Team.Requires.TWO_STEP
    (event,) = TeamEvent.objects.filter(team=team)
    assert event.by == alice
    assert event.message == (
        "alice changed the sign-in rule for team keys from “Nothing more than a password” to "
        "“Two-step sign-in”"
    )
    page = client.get(f"/teams/{team.pk}/")
    assert "Only members with two-step sign-in can use the keys shared with this team." in page.text
    assert event.message in page.text
    # Saving the same rule again changes nothing and adds no line.
    client.post(f"/teams/{team.pk}/sign-in-rule/", {"requires": "two_step"})
    assert TeamEvent.objects.filter(team=team).count() == 1


def test_only_an_owner_changes_the_rule_and_sso_needs_a_provider(alice, bob, carol, team, client):
    for user in (bob, carol):  # a member, then someone outside the team: both a 404
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        reply = client.post(f"/teams/{team.pk}/sign-in-rule/", {"requires": "sso"})
        assert reply.status_code == 404
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    for bad in ({"requires": "sso"}, {"requires": "root"}):
        page = client.post(f"/teams/{team.pk}/sign-in-rule/", bad)
        assert page.status_code == 200
    assert (
        "This studio has no single sign-on provider set up."
        in client.post(f"/teams/{team.pk}/sign-in-rule/", {"requires": "sso"}).text
    )
    team.refresh_from_db()
    assert team.requires == "" and not TeamEvent.objects.exists()


def test_a_member_without_the_rule_sees_the_team_and_the_sentence(alice, bob, team, client):
    teams.set_rule(owner_of(team, alice), Team.Requires.TWO_STEP)
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(f"/teams/{team.pk}/")
    assert page.status_code == 200
    assert (
        "You cannot use this team's keys until you turn on two-step sign-in in your "
        '<a href="/accounts/security/">account security</a>.'
    ) in page.text
    assert f'action="/teams/{team.pk}/sign-in-rule/"' not in page.text  # not an owner


@pytest.mark.slow
def test_a_team_requiring_two_step_refuses_a_member_without_it_before_any_paid_post(
    alice,
    bob,
    team,
    start_fake,  # noqa: F811 - the fixture imported above
    worker,
):
    fake = start_fake("girlgenerator")
    key = add_credential(alice, "girlgenerator", "studio key", KEY)
    services.share_key(key, team, alice)
    queued_before = job(bob, key, "queued before the rule")  # admitted: no rule yet
    teams.set_rule(owner_of(team, alice), Team.Requires.TWO_STEP)

    with pytest.raises(ValidationError) as refused:
        job(bob, key)
    assert refused.value.code == "key_unavailable"
    assert refused.value.messages == [
        "The team “Studio A” lets only members with two-step sign-in use its keys: turn it on in "
        "your account security (/accounts/security/)."
    ]
    own = job(alice, key, "the owner's own key")  # the rule is for members using team keys

    worker.start()
    for generation in (queued_before, own):
        wait_for(lambda g=generation: ended(g), 60)
    queued_before.refresh_from_db()
    assert (queued_before.status, queued_before.error_code) == (Status.FAILED, "key_unavailable")
    assert "/accounts/security/" in queued_before.error_message
    # The vendor saw one paid POST: the owner's. Bob's job never left.
    posts = [r for r in fake.requests if r.method == "POST"]
    assert len(posts) == 1

    TOTP.activate(bob, generate_totp_secret())
    after = job(bob, key, "after turning on two-step sign-in")
    wait_for(lambda: ended(after), 60)
    after.refresh_from_db()
    assert after.status == Status.SUCCEEDED, after.error_message
    assert len([r for r in fake.requests if r.method == "POST"]) == 2


def test_recovery_codes_alone_do_not_count_and_another_team_without_a_rule_does(alice, bob, team):
    from allauth.mfa.models import Authenticator

    key = add_credential(alice, "girlgenerator", "studio key", KEY)
    services.share_key(key, team, alice)
    teams.set_rule(owner_of(team, alice), Team.Requires.TWO_STEP)
    Authenticator.objects.create(user=bob, type=Authenticator.Type.RECOVERY_CODES, data={})
    assert services.team_rule_problem(bob, key) is not None
    # The same key shared with a second team that has no rule: Bob may use it through that one.
    other = teams.create_team(alice, "Studio B")
    Membership.objects.create(team=other, user=bob)
    services.share_key(key, other, alice)
    assert services.team_rule_problem(bob, key) is None


def test_the_generate_form_says_the_sentence(alice, bob, team, client):
    key = add_credential(alice, "girlgenerator", "studio key", KEY)
    services.share_key(key, team, alice)
    teams.set_rule(owner_of(team, alice), Team.Requires.TWO_STEP)
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    page = client.post(
        "/",
        {"key": key.pk, "model": "default", "scene": "text-to-image", "prompt": "a red fox"},
    )
    assert page.status_code == 200
    assert "lets only members with two-step sign-in use its keys" in page.text
    assert "/accounts/security/" in page.text
    assert not Generation.objects.exists()
