"""The admin shows teams, invites, collections and share links to staff, without their tokens
or fingerprints, and can revoke a link."""

from __future__ import annotations

from django.contrib.auth.models import User

from accounts import membership as teams
from studio.sharing import services
from studio.sharing.models import ShareLink
from tests.sharing.conftest import client_for


def test_staff_see_teams_and_links_but_no_token(alice, bob, team, collection):
    invite, invite_token = teams.create_invite_link(team, alice)
    link, link_token = services.create_link(
        alice, kind="collection", collection=collection, audience="team", team=team
    )
    admin = client_for(User.objects.create_superuser("root", "root@example.com", "x" * 20))
    pages = {
        "/admin/accounts/team/": "Studio A",
        f"/admin/accounts/team/{team.pk}/change/": "bob",
        "/admin/accounts/teaminvite/": "Studio A",
        f"/admin/accounts/teaminvite/{invite.pk}/change/": "Studio A",
        "/admin/sharing/collection/": "Foxes and whales",
        "/admin/sharing/sharelink/": "Studio A",
        f"/admin/sharing/sharelink/{link.pk}/change/": "Foxes and whales",
    }
    for path, text in pages.items():
        r = admin.get(path)
        assert r.status_code == 200, path
        content = r.content.decode()
        assert text in content, path
        for secret in (invite_token, invite.token_hash, link_token, link.token_hash):
            assert secret not in content, path
    # Team pages are for looking: membership rules live in accounts.membership.
    assert "Save" not in admin.get(f"/admin/accounts/team/{team.pk}/change/").content.decode()


def test_staff_can_revoke_a_link(alice, collection):
    link, token = services.create_link(
        alice, kind="collection", collection=collection, audience="anyone"
    )
    admin = client_for(User.objects.create_superuser("root", "root@example.com", "x" * 20))
    r = admin.post(
        "/admin/sharing/sharelink/",
        {"action": "revoke", "_selected_action": [link.pk]},
        follow=True,
    )
    assert "Revoked 1 link." in r.content.decode()  # one link: the singular
    assert ShareLink.objects.get().revoked_at is not None
    assert services.find_link(token) is None
    assert client_for(alice).get(f"/s/{token}/").status_code == 404


def test_members_are_not_staff(alice, team):
    assert client_for(alice).get("/admin/sharing/sharelink/").status_code == 302
