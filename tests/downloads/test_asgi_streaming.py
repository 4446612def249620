"""Under ASGI (the Procfile's uvicorn workers) a ZIP or a CSV is sent while it is read: Django
reads a synchronous iterator whole into memory before an ASGI server gets its first byte, so a
bulk ZIP of 500 images was some 840 MB in memory first (studio/web/streaming.py)."""

from __future__ import annotations

import asyncio
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

from studio.downloads import services
from studio.models import Image
from studio.sharing import services as sharing
from studio.sharing.models import Collection
from studio.web import streaming
from tests.downloads.conftest import make_image
from tests.sharing.conftest import client_for


def served_by_asgi(user, path: str, events: list) -> tuple[int, bytes]:
    """GET `path` as `user` through Django's ASGI handler, as uvicorn calls it; each body
    message sent is noted in `events`."""
    session = client_for(user).cookies[settings.SESSION_COOKIE_NAME].value
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()),
            (b"x-forwarded-proto", b"https"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    status, body, asked = [], bytearray(), []

    async def receive():
        if not asked:
            asked.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Future()  # the client stays connected; Django cancels this at the end

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message.get("body"):
            events.append("sent")
            body.extend(message["body"])

    # In a thread of its own: Playwright's session-wide loop may be running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(async_to_sync(ASGIHandler()), scope, receive, send).result()
    return status[0], bytes(body)


@pytest.mark.django_db(transaction=True)
def test_under_asgi_a_collections_zip_is_sent_while_its_images_are_read(alice, monkeypatch):
    monkeypatch.setattr(streaming, "BATCH", 1)  # a hop to the event loop for every part
    collection = Collection.objects.create(owner=alice, name="set")
    images = [make_image(alice, f"image {i}") for i in range(4)]
    sharing.add_images(collection, Image.objects.filter(pk__in=[i.pk for i in images]))
    events: list[str] = []
    read = services.image_bytes

    def noted(image, metadata):
        events.append("read")
        return read(image, metadata)

    monkeypatch.setattr(services, "image_bytes", noted)

    status, body = served_by_asgi(alice, f"/collections/{collection.pk}/download/", events)

    assert status == 200
    assert events.count("read") == 4
    # Read whole first, every image would be read before the first byte was sent.
    assert events.index("sent") < max(i for i, e in enumerate(events) if e == "read")
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert {"manifest.csv", "manifest.json"} < set(archive.namelist())
    assert len(archive.namelist()) == 6


@pytest.mark.django_db(transaction=True)
def test_under_asgi_the_ledger_csv_is_whole(alice):
    from tests.web.test_credits import entry

    for amount in ("1", "2", "3"):
        entry(alice, None, amount)
    status, body = served_by_asgi(alice, "/credits/export.csv", [])
    assert status == 200
    lines = body.decode().splitlines()
    assert lines[0].startswith("time,vendor,key")
    assert len(lines) == 4


def test_a_part_that_is_empty_does_not_end_the_stream(monkeypatch):
    monkeypatch.setattr(streaming, "BATCH", 2)
    response = streaming.StreamingResponse(iter([b"ab", b"", b"c", b"def", b"g"]))

    async def read():
        return [part async for part in response]

    with ThreadPoolExecutor(1) as pool:  # as served_by_asgi
        assert pool.submit(async_to_sync(read)).result() == [b"ab", b"cdef", b"g"]
