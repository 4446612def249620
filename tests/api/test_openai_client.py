"""The API through the official `openai` package, against a live server with a real queue
worker and fake vendors over HTTP: what LobeChat, Open WebUI or a script on the SDK does."""

from __future__ import annotations

import base64

import httpx
import pytest
from openai import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OpenAI,
    PermissionDeniedError,
    RateLimitError,
)

from accounts.vault import add_credential
from studio.api import services
from studio.models import Generation, Image
from studio.vendors.fakes import FakeVendor
from tests.api.conftest import token_for
from tests.web.conftest import png

pytestmark = pytest.mark.slow
KEY = "sk-api-3b9d71c2e4f8a6"


@pytest.fixture
def fakes(settings):
    started = {}

    def start(vendor: str, **options):
        fake = FakeVendor(vendor, **options).start()
        fake.add_key(KEY, credits=100)
        started[vendor] = fake
        settings.STUDIO_VENDOR_URLS = {**settings.STUDIO_VENDOR_URLS, vendor: fake.url}
        return fake

    yield start
    for fake in started.values():
        fake.stop()


@pytest.fixture
def sdk(live_server):
    """OpenAI clients on the live server, closed after the test: a kept-alive connection holds
    a live-server thread, and its database connection, past the test."""
    clients = []

    def make(token: str, **options) -> OpenAI:
        client = OpenAI(base_url=f"{live_server.url}/v1", api_key=token, timeout=60, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def stored_bytes(image: Image) -> bytes:
    with image.file.open("rb") as f:
        return f.read()


def test_demo_images_in_url_and_b64_formats_land_in_the_owners_gallery(
    sdk, live_server, alice, bob, worker
):
    worker.start()
    client = sdk(token_for(alice))

    reply = client.images.generate(model="demo/demo", prompt="a lighthouse at dusk")
    assert len(reply.data) == 1 and reply.data[0].url
    assert reply.data[0].revised_prompt == "a lighthouse at dusk"
    studio = reply.model_extra["studio"]
    job = Generation.objects.get(pk=studio["job_id"], owner=alice)
    assert job.status == Generation.Status.SUCCEEDED and studio["status"] == "succeeded"
    image = Image.objects.get(generation=job)
    assert studio["gallery_urls"] == [f"{live_server.url}/gallery/{image.pk}/"]
    assert studio["cost"] == [
        {"kind": "credits", "amount": "0", "unit": "credits", "money": None, "currency": None}
    ]
    # The URL is the studio's stored copy, fetched without the token (the signature is it).
    assert reply.data[0].url.startswith(f"{live_server.url}/api/v1/files/")
    fetched = httpx.get(reply.data[0].url)
    assert fetched.status_code == 200 and fetched.content == stored_bytes(image)

    reply = client.images.generate(
        model="demo/demo", prompt="a fox", response_format="b64_json", n=2, size="768x512"
    )
    assert [d.url for d in reply.data] == [None, None]
    job = Generation.objects.get(pk=reply.model_extra["studio"]["job_id"])
    images = list(Image.objects.filter(generation=job, owner=alice).order_by("index"))
    assert [base64.b64decode(d.b64_json) for d in reply.data] == [stored_bytes(i) for i in images]
    assert (images[0].width, images[0].height) == (768, 512)
    assert Image.objects.filter(owner=bob).count() == 0

    # A vendor failure is a 502 with the studio's sentence, sent once: not retried by the SDK.
    with pytest.raises(APIStatusError) as failed:
        client.images.generate(model="demo/demo", prompt="a storm [fail]")
    assert failed.value.status_code == 502
    assert "refused this prompt" in failed.value.body["message"]
    assert Generation.objects.filter(prompt="a storm [fail]").count() == 1


def test_an_asynchronous_vendor_an_edit_and_the_models_list(
    sdk, live_server, alice, bob, fakes, worker
):
    gg = fakes("girlgenerator")
    aioagi = fakes("aioagi")
    add_credential(alice, "girlgenerator", "studio gg", KEY)
    add_credential(alice, "aioagi", "team relay", KEY)
    add_credential(bob, "aioagi", "bob's relay", KEY)
    worker.start()
    client = sdk(token_for(alice))

    ids = {m.id for m in client.models.list()}
    assert {"demo/demo", "girlgenerator/default", "aioagi/gpt-image-2"} <= ids
    assert {"studio gg/default", "team relay/gpt-image-2"} <= ids
    assert not any(i.startswith("bob's relay/") for i in ids)

    # girlgenerator answers with a task id and is polled until the image is ready.
    reply = client.images.generate(model="studio gg/default", prompt="a lighthouse")
    job = Generation.objects.get(pk=reply.model_extra["studio"]["job_id"])
    assert (job.vendor, job.owner, job.status) == ("girlgenerator", alice, "succeeded")
    assert job.polls >= 1
    assert httpx.get(reply.data[0].url).content == stored_bytes(job.images.get())
    assert [r.method for r in gg.requests].count("POST") == 1

    # An edit with an uploaded file goes to the vendor as a multipart reference.
    reply = client.images.edit(
        model="aioagi/gpt-image-2",
        image=("in.png", png(96, 96), "image/png"),
        prompt="make it night",
        response_format="b64_json",
    )
    job = Generation.objects.get(pk=reply.model_extra["studio"]["job_id"])
    assert (job.scene, job.status, job.references.count()) == ("edit", "succeeded", 1)
    assert base64.b64decode(reply.data[0].b64_json) == stored_bytes(job.images.get())
    edit_posts = [r for r in aioagi.requests if r.method == "POST" and "edits" in r.path]
    assert len(edit_posts) == 1


def test_past_the_wait_limit_the_reply_is_a_job_to_poll(sdk, live_server, alice, settings, worker):
    settings.STUDIO_API_WAIT_SECONDS = 0
    worker.start()
    token = token_for(alice)
    client = sdk(token)
    reply = client.images.generate(model="demo/demo", prompt="a slow lighthouse")
    assert reply.data == []
    studio = reply.model_extra["studio"]
    assert studio["status"] in ("queued", "submitting", "running")
    headers = {"Authorization": f"Bearer {token}"}

    def poll():
        body = httpx.get(studio["job_url"], headers=headers).json()
        return body if body["status"] == "succeeded" else None

    from tests.worker import wait_for

    body = wait_for(poll, 30, interval=0.5, message="the job never succeeded")
    assert len(body["images"]) == 1
    assert httpx.get(body["images"][0]["url"]).status_code == 200


def test_each_error_class_in_openais_shape(sdk, live_server, alice, bob, settings, monkeypatch):
    token = token_for(alice)
    client = sdk(token, max_retries=0)

    with pytest.raises(AuthenticationError):
        sdk("sk-studio-not-a-token").models.list()
    with pytest.raises(PermissionDeniedError) as read_only:
        sdk(token_for(alice, "read")).images.generate(model="demo/demo", prompt="x")
    assert read_only.value.code == "insufficient_scope"
    with pytest.raises(BadRequestError) as bad:
        client.images.generate(model="demo/demo", prompt="x", size="4096x4096")
    assert bad.value.param == "size"
    with pytest.raises(BadRequestError) as bad:
        client.images.generate(model="nobody/nothing", prompt="x")
    assert bad.value.param == "model"

    # Another user's job is a 404, as on the pages.
    bobs = Generation.objects.create(
        owner=bob, vendor="demo", model="demo", prompt="b", deadline="2100-01-01T00:00Z"
    )
    with pytest.raises(NotFoundError):
        client.get(f"{live_server.url}/api/v1/jobs/{bobs.pk}", cast_to=object)

    # Budgets (issue 15) refuse with ValidationError code "budget": 402; team keys 403.
    from django.core.exceptions import ValidationError

    from studio.engine import services as engine

    def refuse(code):
        def create_generation(*args, **kwargs):
            raise ValidationError("Monthly budget: 0.00 of 10.00 left until 1 Jan.", code=code)

        return create_generation

    monkeypatch.setattr(engine, "create_generation", refuse("budget"))
    with pytest.raises(APIStatusError) as exhausted:
        client.images.generate(model="demo/demo", prompt="x")
    assert exhausted.value.status_code == 402 and exhausted.value.code == "budget"
    assert "Monthly budget" in exhausted.value.message
    monkeypatch.setattr(engine, "create_generation", refuse("key_unavailable"))
    with pytest.raises(PermissionDeniedError) as unavailable:
        client.images.generate(model="demo/demo", prompt="x")
    assert unavailable.value.code == "key_unavailable"

    # The token's own rate limit: 429 with Retry-After.
    settings.STUDIO_API_RATE_LIMIT = (2, 60)
    limited = token_for(alice)
    sdk(limited, max_retries=0).models.list()
    sdk(limited, max_retries=0).models.list()
    with pytest.raises(RateLimitError) as too_many:
        sdk(limited, max_retries=0).models.list()
    assert 1 <= int(too_many.value.response.headers["Retry-After"]) <= 60

    # Revoking takes effect at once.
    services.revoke_token(services.ApiToken.objects.get(last4=token[-4:]))
    with pytest.raises(AuthenticationError) as revoked:
        client.models.list()
    assert "revoked" in revoked.value.message


def test_an_edit_with_a_mask_reaches_the_vendor_as_a_mask_part(
    sdk, live_server, alice, fakes, worker
):
    import io

    from PIL import Image as PILImage

    aioagi = fakes("aioagi")
    add_credential(alice, "aioagi", "team relay", KEY)
    worker.start()
    # OpenAI's kind of mask: transparent where the picture is to change.
    picture = PILImage.new("RGBA", (96, 96), (0, 0, 0, 255))
    picture.paste((0, 0, 0, 0), (24, 24, 72, 72))
    out = io.BytesIO()
    picture.save(out, "PNG")

    reply = sdk(token_for(alice)).images.edit(
        model="team relay/gpt-image-2",
        image=("in.png", png(96, 96), "image/png"),
        mask=("mask.png", out.getvalue(), "image/png"),
        prompt="a window in the middle",
        response_format="b64_json",
    )
    job = Generation.objects.get(pk=reply.model_extra["studio"]["job_id"])
    assert (job.scene, job.status, job.references.count()) == ("edit", "succeeded", 1)
    with job.mask.file.open("rb") as f:
        kept = f.read()
    # The vendor got the studio's re-encoded copy of the mask, with the same pixels and alpha.
    assert aioagi.masks == [kept]
    sent = PILImage.open(io.BytesIO(aioagi.masks[0]))
    assert (sent.format, sent.mode, sent.size) == ("PNG", "RGBA", (96, 96))
    assert sent.tobytes() == picture.tobytes()
    _, body = next(b for b in aioagi.bodies if b[0] == "/v1/images/edits")
    assert [name for name, _ in body["files"]["mask"]] == [f"mask-{job.mask.pk}.png"]
    assert len(body["files"]["image[]"]) == 1
