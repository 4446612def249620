from __future__ import annotations

import re

from django.core import mail


def test_password_reset_sends_a_working_link(client, alice):
    r = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert r.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body

    r = client.get(link.group(1), follow=True)
    assert r.status_code == 200
    form_url = r.redirect_chain[-1][0]
    r = client.post(
        form_url,
        {"password1": "a brand new passphrase", "password2": "a brand new passphrase"},
    )
    assert r.status_code == 302
    assert r.url == "/accounts/password/reset/key/done/"

    alice.refresh_from_db()
    assert alice.check_password("a brand new passphrase")
    # The link works once only.
    r = client.get(link.group(1), follow=True)
    assert b"possibly because it has already been used" in r.content


def test_password_reset_for_an_unknown_email_looks_the_same(client, db):
    r = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert r.status_code == 302
    assert r.url == "/accounts/password/reset/done/"
    assert len(mail.outbox) == 0


def test_it_changes_the_password(alice_client, alice):
    r = alice_client.post(
        "/accounts/password/change/",
        {
            "oldpassword": "correct horse battery",
            "password1": "a brand new passphrase",
            "password2": "a brand new passphrase",
        },
    )
    assert r.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a brand new passphrase")


def test_profile_saves_and_shows_errors(alice_client, alice, bob):
    r = alice_client.post("/accounts/profile/", {"first_name": "Alice", "email": "bob@example.com"})
    assert r.status_code == 200
    assert b"An account with this email already exists." in r.content
    r = alice_client.post(
        "/accounts/profile/", {"first_name": "Alice", "email": "alice@new.example.com"}
    )
    assert r.status_code == 302
    alice.refresh_from_db()
    assert (alice.first_name, alice.email) == ("Alice", "alice@new.example.com")


def test_a_new_address_on_the_profile_must_be_verified_again(alice_client, alice):
    from allauth.account.models import EmailAddress

    assert EmailAddress.objects.get(user=alice).verified
    alice_client.post("/accounts/profile/", {"email": "alice@new.example.com"})
    (address,) = EmailAddress.objects.filter(user=alice)
    assert (address.email, address.verified, address.primary) == (
        "alice@new.example.com",
        False,
        True,
    )
    assert mail.outbox[-1].to == ["alice@new.example.com"]
