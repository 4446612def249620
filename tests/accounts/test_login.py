from __future__ import annotations

import re

import pytest


def login(client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_it_signs_in(client, alice):
    r = login(client, "alice", "correct horse battery")
    assert r.status_code == 302
    assert r.url == "/"
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_wrong_password_shows_an_error_and_leaks_nothing(client, alice, bob):
    wrong_password = login(client, "alice", "not the password")
    unknown_user = login(client, "nobody", "not the password")
    for r in (wrong_password, unknown_user):
        assert r.status_code == 200
        assert b"Please enter a correct username and password" in r.content
        assert b"not the password" not in r.content
        assert "_auth_user_id" not in client.session

    # The same page whether or not the account exists (but for the name typed and the token).
    def normalized(r, name: bytes) -> bytes:
        return re.sub(
            rb'value="[^"]{64}"|"X-CSRFToken": "[^"]+"', b"", r.content.replace(name, b"X")
        )

    assert normalized(wrong_password, b"alice") == normalized(unknown_user, b"nobody")


def test_it_locks_out_after_repeated_failures(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "alice", "wrong").status_code == 200
    r = login(client, "alice", "wrong")
    assert r.status_code == 429
    assert b"Too many failed sign-in attempts" in r.content
    assert b"locked for 15 minutes" in r.content
    # Even the right password is refused while locked.
    r = login(client, "alice", "correct horse battery")
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_account(client, alice, bob, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "alice", "wrong")
    r = login(client, "bob", "another good passphrase")
    assert r.status_code == 302


@pytest.mark.parametrize("path", ["/", "/accounts/profile/", "/accounts/password/change/"])
def test_pages_behind_login_redirect_anonymous_users(client, db, path):
    r = client.get(path)
    assert r.status_code == 302
    assert r.url == f"/accounts/login/?next={path}"


def test_it_signs_out(alice_client):
    r = alice_client.post("/accounts/logout/")
    assert r.status_code == 302
    assert "_auth_user_id" not in alice_client.session


def test_an_email_address_signs_in_and_is_locked_out_like_a_username(client, alice, settings):
    r = login(client, "alice@example.com", "correct horse battery")
    assert r.status_code == 302 and client.session["_auth_user_id"] == str(alice.pk)
    client.post("/accounts/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        r = login(client, "alice@example.com", "wrong")
    assert r.status_code == 429
    assert login(client, "alice@example.com", "correct horse battery").status_code == 429
