"""Personal access tokens: the command, the /tokens/ pages, revoking, expiry, the audit trail."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.tokens import token_hash
from studio.api import services
from studio.api.models import ApiToken, ApiTokenEvent
from tests.api.conftest import bearer, token_for

pytestmark = pytest.mark.django_db


def test_the_command_prints_the_token_alone_and_stores_only_its_hash(alice):
    out = StringIO()
    call_command("create_api_token", "alice", "--name", "ci", "--scope", "read", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sk-studio-") and len(lines[0]) > 40
    token = ApiToken.objects.get(owner=alice)
    assert (token.name, token.scope, token.last4) == ("ci", "read", lines[0][-4:])
    assert token.token_hash == token_hash(lines[0])
    assert lines[0] not in str(list(ApiToken.objects.values()))
    assert ApiTokenEvent.objects.get(token=token).kind == "created"


def test_the_command_refuses_an_unknown_user_and_scope(alice):
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("create_api_token", "alice", "--scope", "admin", stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_a_token_is_created_on_the_page_and_shown_once(alice_client, alice):
    r = alice_client.post("/tokens/", {"name": "Open WebUI", "scope": "generate", "expires": "30"})
    assert r.status_code == 200
    secret = r.context["secret"]
    assert secret in r.content.decode() and "data-copy" in r.content.decode()
    assert r["Cache-Control"].startswith("max-age=0")
    token = ApiToken.objects.get(owner=alice)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    listing = alice_client.get("/tokens/").content.decode()
    assert "Open WebUI" in listing and secret not in listing and f"…{secret[-4:]}" in listing


def test_an_invalid_form_re_renders_with_errors_and_creates_nothing(alice_client):
    r = alice_client.post("/tokens/", {"name": "", "scope": "root", "expires": "forever"})
    assert r.status_code == 400
    assert set(r.context["form"].errors) == {"name", "scope", "expires"}
    assert not ApiToken.objects.exists()


def test_revoking_takes_effect_at_once_and_is_in_the_trail(client, alice_client, alice):
    secret = token_for(alice)
    assert client.get("/v1/models", **bearer(secret)).status_code == 200
    token = ApiToken.objects.get()
    assert token.last_used_at is not None
    alice_client.post(f"/tokens/{token.pk}/revoke/")
    r = client.get("/v1/models", **bearer(secret))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    kinds = list(ApiTokenEvent.objects.filter(token=token).values_list("kind", flat=True))
    assert kinds == ["refused", "revoked", "created"]
    page = alice_client.get("/tokens/").content.decode()
    assert "Revoked" in page and "/v1/models" in page


def test_another_users_token_cannot_be_revoked(client, alice, bob):
    token_for(alice)
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    token = ApiToken.objects.get()
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_an_expired_token_is_refused(client, alice):
    secret = token_for(alice)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/v1/models", **bearer(secret)).status_code == 401


def test_a_session_cookie_is_never_enough(alice_client):
    r = alice_client.get("/v1/models")
    assert r.status_code == 401
    r = alice_client.post(
        "/v1/images/generations", {"model": "demo/demo", "prompt": "x"}, "application/json"
    )
    assert r.status_code == 401


def test_a_deactivated_user_s_token_is_unknown(client, alice):
    secret = token_for(alice)
    alice.is_active = False
    alice.save()
    assert client.get("/v1/models", **bearer(secret)).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(client, alice, django_assert_num_queries):
    secret = token_for(alice)
    client.get("/v1/models", **bearer(secret))
    first = ApiToken.objects.get().last_used_at
    client.get("/v1/models", **bearer(secret))
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - services.LAST_USED_RESOLUTION * 2)
    client.get("/v1/models", **bearer(secret))
    assert ApiToken.objects.get().last_used_at > first


def test_the_pages_speak_simplified_chinese(alice_client):
    tokens = alice_client.get("/tokens/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "新建令牌" in tokens
    page = alice_client.get("/api/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "工作室 API" in page and "/api/openapi.json" in page


def test_the_guide_is_docs_api_md_as_plain_text(alice_client):
    r = alice_client.get("/api/guide.md")
    assert r["Content-Type"] == "text/plain; charset=utf-8"
    assert "create_api_token" in r.content.decode() and "x-should-retry" in r.content.decode()


def test_staff_see_tokens_in_the_admin_without_their_hash_and_can_revoke(client, alice):
    from django.contrib.auth.models import User

    secret = token_for(alice)
    token = ApiToken.objects.get()
    staff = User.objects.create_superuser("staff", "s@example.com", "a long staff passphrase")
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()
    assert token.name in page and token.token_hash not in page and secret not in page
    client.post(
        "/admin/api/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiTokenEvent.objects.filter(kind="revoked", detail="admin").exists()
    assert client.get("/admin/api/apitokenevent/").status_code == 200
