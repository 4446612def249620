from __future__ import annotations

import pytest

from tests.engine.conftest import engine_settings, start_fake  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 on loopback, for the whole session: an S3-compatible endpoint like MinIO's."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_server, request):
    """The environment an operator would set, with a fresh private bucket for this test."""

    bucket = "studio-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    env = {
        "STUDIO_S3_BUCKET": bucket,
        "AWS_S3_ENDPOINT_URL": s3_server,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "studio-test-key-id",
        "AWS_SECRET_ACCESS_KEY": "studio-test-secret",
        "STUDIO_S3_PREFIX": "media",
    }
    client = s3_client(env)
    client.create_bucket(Bucket=bucket)
    yield env
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])
    client.delete_bucket(Bucket=bucket)


def s3_client(env):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_S3_ENDPOINT_URL"],
        region_name=env["AWS_S3_REGION_NAME"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
