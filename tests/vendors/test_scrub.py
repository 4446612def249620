"""One rule for every text kept from a vendor: no secret, whole or in any run of 12 characters,
in values or object keys, before or after the cut, in messages, raw replies or usage."""

from __future__ import annotations

import json

import pytest

from studio.vendors import ADAPTERS
from studio.vendors.base import Connection, Failed, Finished, clean_raw, excerpt, scrub
from studio.vendors.fakes.core import STRADDLE_AT
from tests.vendors.conftest import PROFILES
from tests.vendors.loopback import free_port

# Not key-shaped (no sk- prefix), so only the rule for the credential's own secrets applies.
SECRET = "k9f3a7c2e1d8b6a4f0c5e9d2"
RUNS = [SECRET[i : i + 12] for i in range(len(SECRET) - 11)]


def leaks(text: str) -> list[str]:
    return [run for run in RUNS if run in text]


def test_scrub_redacts_any_run_of_12_characters_of_a_secret() -> None:
    text = f"bad token {SECRET[:16]}… hint …{SECRET[-12:]}; prefix {SECRET[:11]}."

    clean = scrub(text, [SECRET])

    assert clean == f"bad token [redacted]… hint …[redacted]; prefix {SECRET[:11]}."


def test_clean_raw_scrubs_object_keys_as_well_as_values() -> None:
    raw = {SECRET: {"quota": 0}, "usage": {f"key:{SECRET}": SECRET[2:20]}}

    clean = clean_raw(raw, [SECRET])

    assert clean == {"[redacted]": {"quota": 0}, "usage": {"key:[redacted]": "[redacted]"}}


def test_an_excerpt_is_scrubbed_before_it_is_cut() -> None:
    text = "." * 490 + SECRET + " more"

    kept = excerpt(text, [SECRET], limit=500)

    assert kept == "." * 490 + "[redacted]" and not leaks(kept)


@pytest.fixture
def aioagi(fakes, client):
    fake = fakes("aioagi", port=free_port())
    fake.add_key(SECRET)
    conn = Connection(base_url=fake.url, api_key=SECRET, client=client)
    return fake, conn


def test_a_plain_text_reply_with_the_key_across_the_cut_keeps_none_of_it(aioagi) -> None:
    fake, conn = aioagi
    fake.next_submit = "echo_text_straddling_cut"

    result = ADAPTERS["aioagi"].submit(conn, PROFILES["aioagi"].request)

    assert isinstance(result, Failed) and result.error.may_have_charged
    text = result.raw["text"]
    assert len(text) <= 500 and text[STRADDLE_AT:].startswith("[redacted]")
    assert not leaks(text)


def test_part_of_the_key_in_a_message_or_a_value_is_not_kept(aioagi) -> None:
    fake, conn = aioagi
    fake.next_submit = "echo_key_fragment"

    result = ADAPTERS["aioagi"].submit(conn, PROFILES["aioagi"].request)

    assert isinstance(result, Failed) and "[redacted]" in result.error.message
    assert not leaks(result.error.message) and not leaks(json.dumps(result.raw))


def test_the_key_as_an_object_key_reaches_neither_raw_nor_the_usage_for_the_ledger(
    aioagi,
) -> None:
    fake, conn = aioagi
    fake.next_submit = "echo_key_as_object_key"

    result = ADAPTERS["aioagi"].submit(conn, PROFILES["aioagi"].request)

    assert isinstance(result, Finished)
    assert "[redacted]" in result.spend.tokens and result.spend.tokens["total_tokens"] > 0
    assert not leaks(json.dumps(result.raw)) and not leaks(json.dumps(result.spend.tokens))


def test_a_fragment_in_a_key_check_is_not_kept(aioagi) -> None:
    fake, conn = aioagi
    fake.next_verify = "echo_key_fragment"

    result = ADAPTERS["aioagi"].verify(conn)

    assert result.status == "invalid_key" and "[redacted]" in result.message
    assert not leaks(result.message)
