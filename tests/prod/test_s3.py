"""Media on S3-compatible storage: moto's S3 server on loopback stands in for AWS or MinIO."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image as PILImage

from studio.engine import store
from studio.engine.services import create_generation
from studio.models import Generation
from studio.settings import BASE_DIR, s3_media_storage
from tests.engine.conftest import credential, drive
from tests.prod.conftest import s3_client
from tests.worker import wait_for

Status = Generation.Status


def keys_in(env) -> set[str]:
    listing = s3_client(env).list_objects_v2(Bucket=env["STUDIO_S3_BUCKET"])
    return {obj["Key"] for obj in listing.get("Contents", [])}


def body_of(env, key: str) -> bytes:
    return s3_client(env).get_object(Bucket=env["STUDIO_S3_BUCKET"], Key=key)["Body"].read()


def test_it_keeps_media_local_without_a_bucket():
    assert s3_media_storage({}) is None
    assert s3_media_storage({"AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}) is None


def test_it_builds_the_s3_backend_from_the_environment(s3_env):
    storage = s3_media_storage(s3_env)
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == s3_env["STUDIO_S3_BUCKET"]
    assert options["endpoint_url"] == s3_env["AWS_S3_ENDPOINT_URL"]
    assert options["location"] == "media"
    assert options["default_acl"] is None and options["querystring_auth"] is True
    assert options["file_overwrite"] is False


@pytest.mark.parametrize(
    "change, message",
    [
        ({"AWS_SECRET_ACCESS_KEY": ""}, "must be set together"),
        ({"AWS_S3_ADDRESSING_STYLE": "sideways"}, "AWS_S3_ADDRESSING_STYLE must be"),
        ({"STUDIO_S3_URL_SECONDS": "soon"}, "STUDIO_S3_URL_SECONDS must be"),
    ],
)
def test_a_bad_s3_value_stops_the_studio_at_start_up(s3_env, change, message):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", "import studio.settings"],
        env={**env, **s3_env, **change},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_demo_job_stores_its_image_and_thumbnail_in_the_bucket(alice, s3_env, settings):
    settings.STORAGES = {**settings.STORAGES, "default": s3_media_storage(s3_env)}
    generation = create_generation(alice, vendor="demo", model="demo", prompt="a harbour")
    generation = drive(generation)

    assert generation.status == Status.SUCCEEDED, generation.error_message
    image = generation.images.get()
    keys = keys_in(s3_env)
    assert keys == {f"media/{image.file.name}", f"media/{image.thumbnail.name}"}
    # Read back through Django's storage API, the way the studio serves it.
    with image.file.open("rb") as f:
        stored = f.read()
    assert stored == body_of(s3_env, f"media/{image.file.name}")
    assert len(stored) == image.bytes
    with PILImage.open(io.BytesIO(stored)) as picture:
        assert picture.size == (image.width, image.height)
    with image.thumbnail.open("rb") as f, PILImage.open(f) as thumb:
        assert thumb.format == "WEBP"
    # Private objects: only the owner's grant, and a URL works only with its signature.
    acl = s3_client(s3_env).get_object_acl(
        Bucket=s3_env["STUDIO_S3_BUCKET"], Key=f"media/{image.file.name}"
    )
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    url = image.file.url
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    assert httpx.get(url, trust_env=False).content == stored


@pytest.mark.django_db(transaction=True)
def test_the_sweep_deletes_orphaned_staged_files_in_the_bucket(alice, s3_env, settings):
    settings.STORAGES = {**settings.STORAGES, "default": s3_media_storage(s3_env)}
    # A hand-over that died after staging its bytes: the job never left `running`.
    orphan = create_generation(alice, vendor="demo", model="demo", prompt="x")
    Generation.objects.filter(pk=orphan.pk).update(status=Status.RUNNING)
    orphaned = default_storage.save(f"incoming/{orphan.pk}/0.bin", ContentFile(b"png"))
    # A download that still needs its staged bytes.
    downloading = create_generation(alice, vendor="demo", model="demo", prompt="y")
    referenced = default_storage.save(f"incoming/{downloading.pk}/0.bin", ContentFile(b"png"))
    Generation.objects.filter(pk=downloading.pk).update(
        status=Status.DOWNLOADING,
        pending_sources=[{"index": 0, "url": None, "expires_at": None, "staged": referenced}],
    )
    both = {f"media/{orphaned}", f"media/{referenced}"}

    # Young, the orphan may be a hand-over under way: kept.
    assert store.discard_orphaned_staged(timezone.now()) == 0
    assert keys_in(s3_env) == both
    # Past STAGED_MAX_AGE (by the objects' LastModified in the bucket) it goes.
    later = timezone.now() + store.STAGED_MAX_AGE + timedelta(minutes=1)
    assert store.discard_orphaned_staged(later) == 1
    assert keys_in(s3_env) == {f"media/{referenced}"}


@pytest.mark.slow
def test_a_real_worker_configured_only_by_the_environment_stores_in_the_bucket(
    alice, s3_env, start_fake, worker
):
    fake = start_fake("girlgenerator")
    generation = create_generation(
        alice,
        vendor="girlgenerator",
        credential=credential(alice, "girlgenerator"),
        model="default",
        prompt="a lighthouse on a cliff",
    )
    worker.start(**s3_env)

    def ended():
        generation.refresh_from_db()
        return generation.status in Generation.ENDED

    wait_for(ended, 60, message="the job never ended")
    assert generation.status == Status.SUCCEEDED, generation.error_message
    image = generation.images.get()
    # The worker wrote to the bucket, not to MEDIA_ROOT.
    assert keys_in(s3_env) == {f"media/{image.file.name}", f"media/{image.thumbnail.name}"}
    data = body_of(s3_env, f"media/{image.file.name}")
    with PILImage.open(io.BytesIO(data)) as picture:
        assert picture.size == (image.width, image.height) == (1024, 1024)
    assert not list((worker_media_root(worker)).rglob("*.png"))
    assert len([r for r in fake.requests if r.method == "POST"]) == 1


def worker_media_root(worker):
    from django.conf import settings

    return settings.MEDIA_ROOT
