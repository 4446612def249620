"""A key that a vendor echoes back, in any form, is stored nowhere: run through the real engine
against the fakes, then every table, the database files, the log and the pages are searched."""

from __future__ import annotations

import logging
import secrets
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import Credential
from studio.engine.services import create_generation
from studio.models import CreditEntry, Generation
from studio.vendors.fakes.core import STRADDLE_AT
from tests.accounts.test_keys_leaks import admin_pages, disguises, response_text
from tests.engine.conftest import credential, drive
from tests.vendors.loopback import free_port

pytestmark = pytest.mark.django_db(transaction=True)
Status = Generation.Status
RUN = 12  # the scrub rule: no run of this many characters of a key may be kept


def needles(key: str) -> set[str]:
    """The key in its disguises, and every run of RUN of its characters."""
    return disguises(key) | {key[i : i + RUN] for i in range(len(key) - RUN + 1)}


def database_text() -> list[tuple[str, str, str]]:
    """Every value of every column of every table as text, binary ones too (the prompt
    search's FTS tables hold blobs that the database will not cast to text)."""
    found = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                cursor.execute(f"SELECT {quote(column.name)} FROM {quote(table)}")
                for (value,) in cursor.fetchall():
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode(errors="replace")
                    if value:
                        found.append((table, column.name, str(value)))
    return found


def database_files() -> bytes:
    """The SQLite database and its WAL as bytes: deleted or overwritten values linger there.

    Read by another process (cat): closing any descriptor of the file in this one drops all of
    this process's POSIX locks on it (sqlite.org/howtocorrupt.html, 2.2). The next real worker
    to close its connection then took itself for the last one, checkpointed and deleted the
    WAL that this process went on writing to: its later writes never reached the worker, whose
    jobs stalled, and the database was then "not a database" (docs/engine.md)."""
    name = Path(connection.settings_dict["NAME"])
    paths = [str(p) for p in (name, Path(f"{name}-wal")) if p.exists()]
    return subprocess.run(["cat", *paths], capture_output=True, check=True).stdout


def pages_of(client, generation: Generation) -> dict[str, bytes]:
    paths = ["/", f"/jobs/{generation.pk}/", "/gallery/", "/credits/", "/credits/export.csv"]
    paths += ["/keys/", *(f"/gallery/{i.pk}/" for i in generation.images.all())]
    pages = {}
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, path
        if r.streaming:  # the CSV export
            headers = "".join(f"{k}: {v}\n" for k, v in r.items())
            pages[path] = headers.encode() + b"".join(r.streaming_content)
        else:
            pages[path] = response_text(r)
    return pages


def assert_stored_nowhere(key: str, marker: str, pages: dict[str, bytes], records) -> None:
    found = needles(key)
    rows = database_text()
    assert any(marker in value for _, _, value in rows)  # the scan sees the job's rows
    for table, column, value in rows:
        for needle in found:
            assert needle not in value, f"{table}.{column}: {value[:300]}"
    if connection.vendor == "sqlite":
        files = database_files()
        assert marker.encode() in files  # the scan sees the committed rows
        for needle in found:
            assert needle.encode() not in files, "database file or WAL"
    for name, content in pages.items():
        for needle in found:
            assert needle not in content.decode(errors="replace"), name
    for record in records:
        line = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for needle in found:
            assert needle not in line, record.name


# (vendor, model, params, stage the echo comes at, scenario, how the job ends)
CASES = {
    "object key in a reply and its usage": (
        "aioagi",
        "gpt-image-2",
        {"size": "1024x1024"},
        "submit",
        "echo_key_as_object_key",
        Status.SUCCEEDED,
    ),
    "object key in a poll": (
        "lemondata",
        "flux-pro",
        {"size": "512x512"},
        "poll",
        "echo_key_as_object_key",
        Status.SUCCEEDED,
    ),
    "plain text across the cut": (
        "aioagi",
        "gpt-image-2",
        {"size": "1024x1024"},
        "submit",
        "echo_text_straddling_cut",
        Status.UNKNOWN_OUTCOME,
    ),
    "part of the key in the message and a value": (
        "aioagi",
        "gpt-image-2",
        {"size": "1024x1024"},
        "submit",
        "echo_key_fragment",
        Status.FAILED,
    ),
    "the whole key as a value and in the message": (
        "girlgenerator",
        "default",
        {},
        "submit",
        "echo_auth",
        Status.FAILED,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_echoed_key_is_stored_nowhere(case, alice, alice_client, start_fake, caplog):
    vendor, model, params, stage, scenario, ends = CASES[case]
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    # Not key-shaped (no sk- prefix): only the rule for this credential's secrets can catch it.
    key = f"k{secrets.token_hex(12)}"
    marker = f"lighthouse-{secrets.token_hex(4)}"
    # A task that is done at once: the echoing poll is the last, so its reply is the one kept.
    fast = {"pending_s": 0, "processing_s": 0} if stage == "poll" else {}
    fake = start_fake(vendor, port=free_port(), **fast)
    fake.add_key(key)
    setattr(fake, f"next_{stage}", scenario)
    generation = create_generation(
        alice,
        vendor=vendor,
        credential=credential(alice, vendor, key),
        model=model,
        prompt=f"a {marker} at dusk",
        params=params,
    )

    generation = drive(generation)

    assert generation.status == ends, generation.error_message
    assert getattr(fake, f"next_{stage}") is None  # the echo was sent
    assert "[redacted]" in str(generation.raw_reply)  # the echo was stored, scrubbed
    if scenario == "echo_text_straddling_cut":
        assert generation.raw_reply["text"][STRADDLE_AT:].startswith("[redacted]")
    if vendor == "aioagi" and ends == Status.SUCCEEDED:
        tokens = CreditEntry.objects.get(generation=generation, kind="tokens")
        assert "[redacted]" in str(tokens.raw)  # the usage with the echo reached the ledger
    pages = pages_of(alice_client, generation)
    pages.update(admin_pages(alice_client, Credential.objects.get(owner=alice)))
    assert_stored_nowhere(key, marker, pages, caplog.records)


def test_the_sweep_finds_a_run_of_the_key(alice):
    """The search itself works: 12 characters of the key in a row, or in the files, are found."""
    key = f"k{secrets.token_hex(12)}"
    generation = create_generation(
        alice, vendor="demo", model="demo", prompt="a lighthouse-sweep", params={}
    )
    Generation.objects.filter(pk=generation.pk).update(raw_reply={"text": f"x{key[5:17]}x"})
    with pytest.raises(AssertionError, match="studio_generation.raw_reply"):
        assert_stored_nowhere(key, "lighthouse-sweep", {}, [])
