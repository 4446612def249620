"""The API through the Procfile's web process (gunicorn's uvicorn workers on studio.asgi) with a
real queue worker: the async wait for a job works under ASGI, with production settings."""

from __future__ import annotations

import base64

import httpx
import pytest
from openai import OpenAI

from studio.api import services
from studio.models import Generation
from tests.prod.test_gunicorn import HTTPS, SECRET_KEY, gunicorn  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def shared_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STUDIO_POLL_SCALE = 0.05


def test_a_generation_waits_for_its_job_under_asgi(alice, worker, gunicorn):  # noqa: F811
    _proc, web = gunicorn

    # The web process signs the tasks it queues with its SECRET_KEY: the worker needs the same.
    worker.start(SECRET_KEY=SECRET_KEY)
    _token, secret = services.create_token(alice, name="prod", scope="generate")
    with OpenAI(
        base_url=f"{str(web.base_url).rstrip('/')}/v1",
        api_key=secret,
        default_headers=HTTPS,
        timeout=60,
        max_retries=0,
    ) as client:
        reply = client.images.generate(model="demo/demo", prompt="a lighthouse", n=2)
        assert len(reply.data) == 2
        job = Generation.objects.get(pk=reply.model_extra["studio"]["job_id"])
        assert job.status == Generation.Status.SUCCEEDED and job.owner == alice
        # Behind the proxy the signed URL says https; the proxy would forward it to us.
        url = reply.data[0].url.replace("https://", "http://", 1)
        fetched = httpx.get(url, headers=HTTPS, trust_env=False)
        with job.images.get(index=0).file.open("rb") as f:
            assert fetched.status_code == 200 and fetched.content == f.read()

        b64 = client.images.generate(model="demo/demo", prompt="a fox", response_format="b64_json")
        assert base64.b64decode(b64.data[0].b64_json)[:8] == b"\x89PNG\r\n\x1a\n"
