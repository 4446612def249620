"""Staff see comparisons and their columns in the admin, and change nothing."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from tests.compare.conftest import start, targets_of


def test_staff_see_a_comparison_and_its_columns(alice, keys):
    comparison = start(
        alice,
        targets_of(alice, "demo:demo", f"{keys['aioagi'].pk}:gpt-image-2"),
        prompt="a fox in the snow",
    )
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 20))
    r = admin.get("/admin/compare/comparison/")
    assert r.status_code == 200 and "alice" in r.content.decode()
    r = admin.get(f"/admin/compare/comparison/{comparison.pk}/change/")
    page = r.content.decode()
    assert r.status_code == 200 and "a fox in the snow" in page and "gpt-image-2" in page
    assert "Save" not in page
    assert admin.get("/admin/compare/comparison/add/").status_code == 403
