"""STUDIO_VAULT_KEYS at start-up: required in production, a local key file in development."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from studio.settings import BASE_DIR
from tests.studio import test_settings as production

K1 = Fernet.generate_key().decode()
K2 = Fernet.generate_key().decode()


def vault_keys(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "STUDIO_VAULT_KEYS")}
    return subprocess.run(
        [sys.executable, "-c", "import studio.settings as s; print(*s.STUDIO_VAULT_KEYS)"],
        env={**clean, **env},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_takes_the_keys_newest_first():
    result = production.load_settings({**production.GOOD_PRODUCTION_ENV, "STUDIO_VAULT_KEYS": K1})
    assert result.returncode == 0, result.stderr
    result = vault_keys({**production.GOOD_PRODUCTION_ENV, "STUDIO_VAULT_KEYS": f"{K2}, {K1}"})
    assert result.stdout.split() == [K2, K1]


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "STUDIO_VAULT_KEYS must hold one or more Fernet keys"),
        (" , ", "STUDIO_VAULT_KEYS must hold one or more Fernet keys"),
        ("not-a-fernet-key", "STUDIO_VAULT_KEYS entry number 1 is not a Fernet key"),
        (f"{K1},{K2[:-2]}", "STUDIO_VAULT_KEYS entry number 2 is not a Fernet key"),
    ],
    # Stable ids: the keys are random, and parallel workers must collect the same tests.
    ids=["empty", "blank", "not-a-key", "second-truncated"],
)
def test_a_missing_or_malformed_key_stops_production(value, message):
    result = production.load_settings(
        {**production.GOOD_PRODUCTION_ENV, "STUDIO_VAULT_KEYS": value}
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
    # A malformed key may be a real key with a typo: never repeat it.
    assert K2[:-2] not in result.stderr


def test_a_malformed_key_is_an_error_in_development_too(tmp_path):
    result = vault_keys({"STUDIO_VAR_DIR": str(tmp_path), "STUDIO_VAULT_KEYS": "nonsense"})
    assert result.returncode != 0
    assert "STUDIO_VAULT_KEYS entry number 1 is not a Fernet key" in result.stderr
    assert not (tmp_path / "vault.key").exists()


def test_development_creates_a_private_key_file_once_and_says_so(tmp_path):
    first = vault_keys({"STUDIO_VAR_DIR": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "vault.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.stdout.split() == [key_file.read_text()]
    Fernet(key_file.read_text())
    assert f"created a development vault key in {key_file}" in first.stderr

    second = vault_keys({"STUDIO_VAR_DIR": str(tmp_path)})
    assert second.stdout == first.stdout
    assert "created a development vault key" not in second.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key", "vault.key"]


def test_the_key_file_is_ignored_by_git():
    result = subprocess.run(
        ["git", "check-ignore", "-q", "var/vault.key"], cwd=BASE_DIR, timeout=30
    )
    assert result.returncode == 0
