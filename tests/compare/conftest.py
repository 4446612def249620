from __future__ import annotations

import pytest

from accounts.vault import add_credential
from studio.compare import services


@pytest.fixture(autouse=True)
def compare_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STUDIO_VENDOR_URLS = {"chatbp": "http://127.0.0.1:9"}
    settings.STUDIO_PUBLIC_URL = ""


@pytest.fixture
def keys(alice) -> dict:
    """One key per vendor for Alice."""
    return {
        vendor: add_credential(alice, vendor, f"{vendor} key", f"sk-{vendor}-0123456789abcdef")
        for vendor in ("girlgenerator", "aioagi", "lemondata", "chatfire")
    }


def target(owner, credential, model: str) -> str:
    """The form value of a target: `<key pk>:<model>`, or `demo:demo`."""
    value = f"{credential.pk if credential else 'demo'}:{model}"
    assert value in {t.value for t in services.targets_for(owner)}, value
    return value


def start(owner, targets: list, *, blind: bool = False, prompt: str = "a lighthouse in fog"):
    """A comparison of `targets` (services.Target) started as the compare form would."""
    plans = [services.plan_target(t, aspect_ratio="1:1") for t in targets]
    return services.start_comparison(
        owner, prompt=prompt, aspect_ratio="1:1", blind=blind, plans=plans
    )


def targets_of(owner, *values: str) -> list:
    by_value = {t.value: t for t in services.targets_for(owner)}
    return [by_value[v] for v in values]


def finish(column, *, seconds: float = 10.0, images: int = 1, raw: dict | None = None):
    """Marks the column's job done `seconds` after its submit, with images."""
    from datetime import timedelta

    from django.utils import timezone

    from studio.models import Generation
    from tests.web.conftest import make_image

    job = column.generation
    now = timezone.now()
    Generation.objects.filter(pk=job.pk).update(
        status=Generation.Status.SUCCEEDED,
        submitted_at=now - timedelta(seconds=seconds),
        finished_at=now,
        raw_reply=raw,
    )
    job.refresh_from_db()
    for index in range(images):
        make_image(job.owner, job.prompt, job=job, index=index)
    return job
