"""Every URL of the project, visited as its owner, as another user and anonymously.

The table below must list every URL pattern: adding a URL without deciding who may use it
fails `test_every_url_is_in_the_table`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.core import signing
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts import membership as teams
from accounts.models import Membership, Team, TeamInvite
from accounts.vault import add_credential
from studio.api import services as api
from studio.compare import services as compare
from studio.engine.references import SALT, save_reference
from studio.models import Image
from studio.money import services as money
from studio.money.models import Budget, Price
from studio.sharing import services as sharing
from studio.sharing.models import Collection
from tests.web.conftest import make_image, make_job, png

LOGIN = "/accounts/login/"


@dataclass(frozen=True)
class Route:
    # "owner": sign-in, and another user's object is a 404. "user": sign-in, shows the
    # visitor's own data. "public": anyone. "token": anyone holding a valid signed token.
    # "capability": a team share link's token; anonymous visitors get a sign-in or a 404,
    # signed-in users outside the team a 404. "bearer": an API token in the Authorization
    # header and nothing else (tests/api/ send them).
    access: str
    method: str = "GET"
    resource: str | None = None  # what fills <pk>: job, image, deleted_image, reference, key
    ok: tuple[int, ...] = (200, 302)
    data: tuple[tuple[str, str], ...] = (("language", "en"),)  # what a POST sends


@dataclass(frozen=True)
class Params:
    """A resource that fills several parts of a path (`"id:item_pk": 3`), and its query."""

    values: dict
    query: str = ""


ROUTES: dict[str, Route] = {
    "": Route("user"),
    "generate/form/": Route("user"),
    "jobs/": Route("user"),
    "jobs/<id:pk>/": Route("owner", resource="job"),
    "jobs/<id:pk>/cancel/": Route("owner", "POST", "job"),
    "jobs/<id:pk>/retry/": Route("owner", "POST", "job"),
    "jobs/<id:pk>/dismiss/": Route("owner", "POST", "job"),
    "gallery/": Route("user"),
    # Bulk actions touch only the visitor's own images: anyone else's ids are not among them.
    "gallery/bulk/": Route("user", "POST", data=(("action", "favourite"), ("image", "1"))),
    "gallery/restore/": Route("user", "POST", data=(("image", "1"),)),
    "downloads/settings/": Route("user"),
    "gallery/<id:pk>/": Route("owner", resource="image"),
    "gallery/<id:pk>/favourite/": Route("owner", "POST", "image"),
    "gallery/<id:pk>/reference/": Route("owner", "POST", "image"),
    "gallery/<id:pk>/delete/": Route("owner", "POST", "image"),
    "gallery/<id:pk>/restore/": Route("owner", "POST", "deleted_image"),
    "images/<id:pk>/": Route("owner", resource="image"),
    "images/<id:pk>/thumbnail/": Route("owner", resource="image"),
    "images/<id:pk>/download/": Route("owner", resource="image"),
    "references/<id:pk>/": Route("owner", resource="reference"),
    "credits/": Route("user"),
    "credits/export.csv": Route("user"),
    "healthz": Route("public", ok=(200, 503)),
    "accounts/signup/": Route("public"),
    "accounts/login/": Route("public"),
    "accounts/logout/": Route("public", "POST"),
    "accounts/profile/": Route("user"),
    # --- Accounts: django-allauth (issue 19) ---
    "accounts/security/": Route("user"),
    "accounts/security/sign-out-others/": Route("user", "POST"),
    "accounts/inactive/": Route("public"),
    "accounts/reauthenticate/": Route("user"),
    "accounts/email/": Route("user"),
    "accounts/confirm-email/": Route("public"),
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": Route("public"),
    "accounts/password/change/": Route("user"),
    "accounts/password/set/": Route("user"),
    "accounts/password/reset/": Route("public"),
    "accounts/password/reset/done/": Route("public"),
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": Route("public"),
    "accounts/password/reset/key/done/": Route("public"),
    "accounts/login/code/confirm/": Route("public"),
    "accounts/2fa/": Route("user"),
    "accounts/2fa/authenticate/": Route("public"),
    "accounts/2fa/reauthenticate/": Route("user"),
    "accounts/2fa/totp/activate/": Route("user"),
    "accounts/2fa/totp/deactivate/": Route("user"),
    "accounts/2fa/recovery-codes/": Route("user"),
    "accounts/2fa/recovery-codes/generate/": Route("user"),
    "accounts/2fa/recovery-codes/download/": Route("user"),
    "accounts/2fa/webauthn/": Route("user"),
    "accounts/2fa/webauthn/add/": Route("user"),
    "accounts/2fa/webauthn/reauthenticate/": Route("user"),
    # Each asks for a fresh sign-in before it looks for the passkey, which it looks for among
    # the visitor's own (tests/accounts/test_security.py).
    "accounts/2fa/webauthn/keys/<id:pk>/remove/": Route("user"),
    "accounts/2fa/webauthn/keys/<id:pk>/edit/": Route("user"),
    "accounts/2fa/webauthn/login/": Route("public", "POST"),
    "accounts/3rdparty/": Route("user"),
    "accounts/3rdparty/login/cancelled/": Route("public"),
    "accounts/3rdparty/login/error/": Route("public", ok=(401,)),
    "accounts/3rdparty/signup/": Route("public"),
    # Single sign-on (accounts/sso.py): the provider in `offline` below is a closed port, so
    # starting a sign-in says, with a 502, that it did not answer; the callback without a
    # state it sent is allauth's sign-in error page.
    "accounts/oidc/<str:provider_id>/login/": Route("public", ok=(200, 302, 502)),
    "accounts/oidc/<str:provider_id>/login/callback/": Route("public", ok=(200, 302, 401)),
    # --- end of accounts ---
    "keys/": Route("user"),
    "keys/add/": Route("user"),
    "keys/<id:pk>/replace/": Route("owner", resource="key"),
    "keys/<id:pk>/verify/": Route("owner", "POST", "key"),
    "keys/<id:pk>/default/": Route("owner", "POST", "key"),
    "keys/<id:pk>/revoke/": Route("owner", "POST", "key"),
    "keys/<id:pk>/delete/": Route("owner", "POST", "key"),
    "i18n/setlang/": Route("public", "POST"),
    "r/<str:token>/": Route("token", resource="reference"),
    # --- Teams and sharing ---
    "teams/": Route("user"),
    "teams/<id:pk>/": Route("owner", resource="team"),
    "teams/<id:pk>/invite/": Route("owner", "POST", "team"),
    "teams/<id:pk>/invite-link/": Route("owner", "POST", "team"),
    "teams/<id:pk>/invites/<id:invite_pk>/cancel/": Route("owner", "POST", "team_invite"),
    "teams/<id:pk>/members/<id:member_pk>/remove/": Route("owner", "POST", "team_member"),
    "teams/<id:pk>/members/<id:member_pk>/owner/": Route("owner", "POST", "team_member"),
    "teams/<id:pk>/leave/": Route("owner", "POST", "team"),
    "teams/<id:pk>/sign-in-rule/": Route("owner", "POST", "team"),
    "teams/invites/<id:pk>/accept/": Route("owner", "POST", "invite_for_me"),
    "teams/invites/<id:pk>/decline/": Route("owner", "POST", "invite_for_me"),
    # Anyone signed in may open an invite link: holding it is the permission.
    "teams/join/<str:token>/": Route("user", resource="invite_link"),
    "collections/": Route("user"),
    "collections/add/": Route("owner", resource="image_to_add"),
    "collections/<id:pk>/": Route("owner", resource="collection"),
    "collections/<id:pk>/delete/": Route("owner", "POST", "collection"),
    "collections/<id:pk>/download/": Route("owner", resource="collection"),
    "collections/<id:pk>/items/<id:item_pk>/move/": Route(
        "owner", "POST", "collection_item", data=(("direction", "down"),)
    ),
    "collections/<id:pk>/items/<id:item_pk>/remove/": Route("owner", "POST", "collection_item"),
    "links/": Route("user"),
    "links/new/": Route("owner", resource="collection_to_share"),
    "links/<id:pk>/revoke/": Route("owner", "POST", "share_link"),
    "shared/": Route("user"),
    "shared/<id:pk>/": Route("owner", resource="share_link"),
    "shared/<id:pk>/download/": Route("owner", resource="share_link"),
    "shared/<id:pk>/i/<id:image_id>/": Route("owner", resource="shared_image"),
    "shared/<id:pk>/i/<id:image_id>/thumb/": Route("owner", resource="shared_image"),
    "shared/<id:pk>/i/<id:image_id>/download/": Route("owner", resource="shared_image"),
    "s/<str:token>/": Route("capability", resource="share_token"),
    "s/<str:token>/download/": Route("capability", resource="share_token"),
    "s/<str:token>/i/<id:image_id>/": Route("capability", resource="share_token_image"),
    "s/<str:token>/i/<id:image_id>/thumb/": Route("capability", resource="share_token_image"),
    "s/<str:token>/i/<id:image_id>/download/": Route("capability", resource="share_token_image"),
    # --- end of teams and sharing ---
    # --- Compare ---
    "compare/": Route("user"),
    "compare/new/": Route("user"),
    "compare/<id:pk>/": Route("owner", resource="comparison"),
    "compare/<id:pk>/verdict/": Route("owner", "POST", "comparison"),
    "compare/<id:pk>/rerun/": Route("owner", "POST", "comparison"),
    "compare/<id:pk>/columns/<id:column_pk>/": Route("owner", resource="comparison_column"),
    "compare/<id:pk>/columns/<id:column_pk>/cancel/": Route("owner", "POST", "comparison_column"),
    "compare/<id:pk>/columns/<id:column_pk>/rerun/": Route("owner", "POST", "comparison_column"),
    "vendors/": Route("user"),
    # --- The API: a bearer token only; a session (owner's, other's or none) is never enough ---
    "api/openapi.json": Route("public"),
    "v1/images/generations": Route("bearer", "POST", ok=(401,)),
    "v1/images/edits": Route("bearer", "POST", ok=(401,)),
    "v1/models": Route("bearer", ok=(401,)),
    "api/v1/jobs/<id:job_id>": Route("bearer", resource="api_job", ok=(401,)),
    "api/v1/images": Route("bearer", ok=(401,)),
    "api/v1/files/<str:token>/": Route("token", resource="api_file", ok=(200,)),
    "api/": Route("user"),
    "api/guide.md": Route("user"),
    "tokens/": Route("user"),
    "tokens/<id:pk>/revoke/": Route("owner", "POST", "api_token"),
    "money/": Route("user"),
    "money/budgets/": Route("user", "POST"),
    "money/budgets/<id:pk>/delete/": Route("owner", "POST", "budget"),
    "money/shares/": Route("user", "POST"),
    "money/shares/<id:pk>/stop/": Route("owner", "POST", "key_share"),
    "money/prices/": Route("user", "POST"),
    "money/prices/<id:pk>/delete/": Route("owner", "POST", "own_price"),
}
# Django's admin: staff only, checked in its own test below.
EXCLUDED_PREFIXES = ("admin/",)


def patterns(resolver_patterns=None, prefix: str = ""):
    for pattern in resolver_patterns or get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def test_every_url_is_in_the_table():
    found = {p for p in patterns() if not p.startswith(EXCLUDED_PREFIXES)}
    assert found - set(ROUTES) == set(), "new URLs: add them to ROUTES with their access rule"
    assert set(ROUTES) - found == set(), "URLs listed in ROUTES that no longer exist"


@pytest.fixture(autouse=True)
def offline(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Key verification must not leave the machine: a closed local port refuses at once.
    settings.STUDIO_VENDOR_URLS = dict.fromkeys(("aioagi", "lemondata"), "http://127.0.0.1:9")
    with_sso_provider(settings)


SSO_PROVIDER = "testop"


def with_sso_provider(settings) -> None:
    """One single sign-on provider, on a closed local port: its pages exist, and whatever
    would reach the provider is refused at once."""
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": SSO_PROVIDER,
                    "name": "Test provider",
                    "client_id": "studio",
                    "secret": "walk-secret-not-real",
                    "settings": {"server_url": "http://127.0.0.1:9/o", "oauth_pkce_enabled": True},
                }
            ]
        }
    }
    settings.STUDIO_SSO_PROVIDER_IDS = [SSO_PROVIDER]


def objects(owner) -> dict[str, object]:
    deleted = make_image(owner, "deleted")
    deleted.deleted_at = timezone.now()
    deleted.save()
    image = make_image(owner)
    key = add_credential(owner, "aioagi", "key", "sk-aioagi-0123456789abcdef")
    shared = sharing_objects(owner, image)
    return {
        "job": make_job(owner),
        "image": image,
        "deleted_image": deleted,
        "reference": save_reference(owner, png()),
        "key": key,
        "two_factor": mfa_objects(owner),
        **shared,
        **compare_objects(owner),
        **api_objects(owner, image),
        **money_objects(owner, key, shared["team"]),
    }


def mfa_objects(owner):
    """TOTP and recovery codes turned on (a passkey needs a browser: tests/e2e/test_mfa.py)."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(owner, generate_totp_secret())
    return RecoveryCodes.activate(owner).instance


def api_objects(owner, image) -> dict[str, object]:
    token, _secret = api.create_token(owner, name="script", scope="generate")
    return {
        "api_token": token,
        "api_job": Params({"id:job_id": image.generation_id}),
        "api_file": Params({"str:token": signing.dumps(image.pk, salt=api.FILE_SALT)}),
    }


def money_objects(owner, key, team) -> dict[str, object]:
    budget = Budget.objects.create(owner=owner, scope="own", measure="images", limit=5)
    price = Price.objects.create(
        vendor="aioagi",
        per="images",
        amount=1,
        currency="USD",
        valid_from="2026-01-01",
        credential=key,
    )
    return {
        "budget": budget,
        "key_share": money.share_key(key, team, owner),
        "own_price": price,
    }


def compare_objects(owner) -> dict[str, object]:
    targets = [t for t in compare.targets_for(owner) if t.vendor == "demo"] * 2
    plans = [compare.plan_target(t, aspect_ratio="1:1") for t in targets]
    comparison = compare.start_comparison(
        owner, prompt="two demos", aspect_ratio="1:1", blind=False, plans=plans
    )
    column = comparison.columns.first()
    return {
        "comparison": comparison,
        "comparison_column": Params({"id:pk": comparison.pk, "id:column_pk": column.pk}),
    }


def sharing_objects(owner, image) -> dict[str, object]:
    team = teams.create_team(owner, f"{owner}'s team")
    me = Membership.objects.get(team=team, user=owner)
    invite, invite_token = teams.create_invite_link(team, owner)
    elsewhere = Team.objects.create(name=f"a team inviting {owner}")
    invite_for_me = TeamInvite.objects.create(team=elsewhere, created_by=owner, invitee=owner)
    collection = Collection.objects.create(owner=owner, name="set")
    sharing.add_images(collection, Image.objects.filter(pk=image.pk))
    item = collection.items.get()
    link, token = sharing.create_link(
        owner, kind="collection", collection=collection, audience="team", team=team
    )
    return {
        "team": team,
        "team_invite": Params({"id:pk": team.pk, "id:invite_pk": invite.pk}),
        "team_member": Params({"id:pk": team.pk, "id:member_pk": me.pk}),
        "invite_for_me": invite_for_me,
        "invite_link": Params({"str:token": invite_token}),
        "image_to_add": Params({}, query=f"image={image.pk}"),
        "collection": collection,
        "collection_item": Params({"id:pk": collection.pk, "id:item_pk": item.pk}),
        "collection_to_share": Params({}, query=f"collection={collection.pk}"),
        "share_link": link,
        "shared_image": Params({"id:pk": link.pk, "id:image_id": image.pk}),
        "share_token": Params({"str:token": token}),
        "share_token_image": Params({"str:token": token, "id:image_id": image.pk}),
    }


def url_for(route: str, resource) -> str:
    path = "/" + route
    if isinstance(resource, Params):
        for name, value in resource.values.items():
            path = path.replace(f"<{name}>", str(value))
        return path + (f"?{resource.query}" if resource.query else "")
    if resource is not None:
        path = path.replace("<id:pk>", str(resource.pk))
        path = path.replace("<str:token>", signing.dumps(resource.pk, salt=SALT))
    # allauth's regular-expression routes: their groups filled with something well-formed.
    path = path.replace("<str:provider_id>", SSO_PROVIDER)
    return re.sub(r"<(uidb36|key)>", "x1", plain(path)).replace("<id:pk>", "1")


def plain(route: str) -> str:
    """A regular-expression route written like a path() one: `^a/(?P<key>.+)/$` is `a/<key>/`."""
    return re.sub(r"\(\?P(<\w+>)[^)]*\)", r"\1", route.replace("^", "").replace("$", ""))


def visit(client: Client, route: Route, path: str):
    if route.method == "POST":
        return client.post(path, dict(route.data))
    return client.get(path)


@pytest.mark.parametrize("route_path", sorted(ROUTES))
def test_who_may_use_it(route_path, alice, bob):
    route = ROUTES[route_path]
    mine = objects(alice)
    objects(bob)
    resource = mine.get(route.resource) if route.resource else None
    path = url_for(route_path, resource)
    anonymous, other, owner = Client(), Client(), Client()
    other.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    owner.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")

    r = visit(anonymous, route, path)
    if route.access in ("owner", "user"):
        assert r.status_code == 302 and r.url.startswith(LOGIN), (path, r.status_code)
    elif route.access == "capability":
        signin = r.status_code == 302 and r.url.startswith(LOGIN)
        assert signin or r.status_code == 404, (path, r.status_code)
    else:
        assert r.status_code in route.ok, (path, r.status_code)

    r = visit(other, route, path)
    if route.access in ("owner", "capability"):
        assert r.status_code == 404, (path, r.status_code)
    else:
        assert r.status_code in route.ok, (path, r.status_code)

    r = visit(owner, route, path)
    assert r.status_code in route.ok, (path, r.status_code)


def test_a_reference_token_must_be_valid(client, alice):
    reference = save_reference(alice, png())
    assert client.get(f"/r/{signing.dumps(reference.pk, salt=SALT)}/").status_code == 200
    assert client.get(f"/r/{signing.dumps(reference.pk, salt='other')}/").status_code == 404
    assert client.get("/r/forged/").status_code == 404


def test_the_admin_is_for_staff_only(alice):
    anonymous, user = Client(), Client()
    user.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    for client in (anonymous, user):
        r = client.get("/admin/")
        assert r.status_code == 302 and r.url.startswith("/admin/login/")
