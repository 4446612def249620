from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from studio.settings import BASE_DIR

GOOD_PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 60,
    "ALLOWED_HOSTS": "studio.example.com",
    "EMAIL_HOST": "smtp.example.com",
    "STUDIO_VAULT_KEYS": Fernet.generate_key().decode(),
}


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in GOOD_PRODUCTION_ENV}
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import studio.settings as s; print(s.DEBUG, s.SECURE_SSL_REDIRECT)",
        ],
        env={**clean, **env},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_load_with_every_required_value():
    result = load_settings(GOOD_PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False True"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must list"),
        ({"EMAIL_HOST": ""}, "EMAIL_HOST must name an SMTP server"),
        ({"DATABASE_URL": "nonsense://"}, "DATABASE_URL is not a valid database URL"),
        ({"SECURE_SSL_REDIRECT": "maybe"}, "SECURE_SSL_REDIRECT must be true or false"),
        ({"CSRF_TRUSTED_ORIGINS": "studio.example.com"}, "CSRF_TRUSTED_ORIGINS entries must"),
        ({"STUDIO_VENDOR_URLS": "chatbp"}, "STUDIO_VENDOR_URLS must look like"),
    ],
)
def test_a_bad_production_value_names_the_variable(change, message):
    result = load_settings({**GOOD_PRODUCTION_ENV, **change})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
