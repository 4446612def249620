from __future__ import annotations

from django.contrib.auth.models import User


def test_it_signs_up_and_signs_in(client, db):
    r = client.post(
        "/accounts/signup/",
        {
            "username": "alice",
            "email": "alice@example.com",
            "password1": "correct horse battery",
            "password2": "correct horse battery",
        },
    )
    assert r.status_code == 302
    assert r.url == "/"
    user = User.objects.get(username="alice")
    assert user.email == "alice@example.com"
    assert client.session["_auth_user_id"] == str(user.pk)
    r = client.get("/")
    assert r.status_code == 200
    assert b"alice" in r.content


def test_it_rejects_a_weak_password_and_keeps_the_input(client, db):
    r = client.post(
        "/accounts/signup/",
        {"username": "alice", "email": "alice@example.com", "password1": "123", "password2": "123"},
    )
    assert r.status_code == 200
    assert b"This password is too short" in r.content
    # What the user typed (but never the password) is still in the form.
    assert b'value="alice@example.com"' in r.content
    assert b'value="123"' not in r.content
    assert not User.objects.exists()


def test_it_rejects_a_duplicate_email(client, alice):
    r = client.post(
        "/accounts/signup/",
        {
            "username": "alice2",
            "email": "ALICE@example.com",
            "password1": "correct horse battery",
            "password2": "correct horse battery",
        },
    )
    assert r.status_code == 200
    assert b"An account with this email already exists." in r.content
    assert User.objects.count() == 1


def test_it_serves_the_signup_page(client, db):
    r = client.get("/accounts/signup/")
    assert r.status_code == 200
    assert b'<label for="id_username">' in r.content
