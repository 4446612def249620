"""Settings for Image Studio, driven by the environment.

Development needs no configuration at all: SQLite, DEBUG on, a generated secret key and a
local vault key file under var/. Production (DEBUG off) refuses to start when a required
value is missing or malformed, with a sentence that names the variable.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STUDIO_VAR_DIR", BASE_DIR / "var"))


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envmap(name: str) -> dict[str, str]:
    """Parses `a=x,b=y` into {"a": "x", "b": "y"}."""
    result = {}
    for item in envlist(name):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImproperlyConfigured(
                f"{name} must look like name=value,name=value; got {item!r}."
            )
        result[key.strip()] = value.strip()
    return result


def envjson(name: str, default):
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return json.loads(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be valid JSON.") from None


def vendor_models(name: str) -> dict[str, list[dict]]:
    """Operator models per vendor, checked now: a typo stops the start, not a user's job."""
    from studio.vendors.base import ModelSpec

    value = envjson(name, {})
    if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
        raise ImproperlyConfigured(f'{name} must be JSON like {{"aioagi": [{{"name": …}}]}}.')
    for vendor, entries in value.items():
        try:
            for entry in entries:
                ModelSpec.from_dict(entry)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"{name}[{vendor!r}]: {exc}") from None
    return value


def dev_secret(path: Path) -> str:
    """A random secret kept in a local file, so that sessions survive a restart in dev."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = envbool("DEBUG", True)

if DEBUG:
    SECRET_KEY = os.environ.get("SECRET_KEY") or dev_secret(VAR_DIR / "secret.key")
else:
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random string of at least 50 characters when DEBUG is off."
        )

# --- Key vault (accounts/vault.py) -----------------------------------------------------------
# Users' vendor keys are encrypted with Fernet keys that are independent of SECRET_KEY, so that
# one leaked secret does not open the other. STUDIO_VAULT_KEYS lists them newest first.


def vault_keys(name: str, dev_key_file: Path | None) -> list[str]:
    """The vault's Fernet keys from the environment, or in development from a local file.

    Error messages never quote a key: a malformed entry may be a real key with a typo.
    """
    from cryptography.fernet import Fernet

    keys = envlist(name)
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} entry number {number} is not a Fernet key (32 url-safe base64-encoded "
                "bytes); generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'."
            ) from None
    if keys:
        return keys
    if dev_key_file is None:
        raise ImproperlyConfigured(
            f"{name} must hold one or more Fernet keys (comma-separated, newest first) when "
            "DEBUG is off."
        )
    if not dev_key_file.exists():
        # Written to a private temporary file (mode 600 from the start), then linked into place:
        # of several processes starting at once, one wins and the others read its key.
        dev_key_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = dev_key_file.with_name(f".{dev_key_file.name}.{os.getpid()}")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(Fernet.generate_key().decode())
        try:
            os.link(tmp, dev_key_file)
            logging.getLogger("studio.vault").warning(
                "%s is not set: created a development vault key in %s. Stored API keys cannot "
                "be decrypted without it.",
                name,
                dev_key_file,
            )
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = dev_key_file.read_text().strip()
    try:
        Fernet(key)
    except ValueError:
        raise ImproperlyConfigured(f"{dev_key_file} does not hold a Fernet key.") from None
    return [key]


STUDIO_VAULT_KEYS = vault_keys("STUDIO_VAULT_KEYS", VAR_DIR / "vault.key" if DEBUG else None)
# --- end of key vault settings ----------------------------------------------------------------

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the site's host names when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
for origin in CSRF_TRUSTED_ORIGINS:
    if not origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entries must start with http:// or https://; got {origin!r}."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Its widget templates, for FORM_RENDERER below.
    "django.forms",
    "django_htmx",
    "template_partials",
    "django_q",
    "axes",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    # Single sign-on with any OpenID Connect provider configured from the environment.
    "allauth.socialaccount.providers.openid_connect",
    "accounts",
    "studio",
    "studio.sharing",
    "studio.compare",
    "studio.api",
    "corsheaders",
    "studio.downloads",
    "studio.money",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before CommonMiddleware, as django-cors-headers asks; silent unless STUDIO_API_CORS_ORIGINS.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Signed-in sessions' "last seen", and staff's second factor for /admin/ (accounts/security.py).
    "accounts.security.SessionTrackingMiddleware",
    # Last, as django-axes asks, so that it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

# Forms render through TEMPLATES, so that templates/django/forms/ can override a built-in
# widget's template (a <select> without an include per option: templates/django/forms/).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "accounts.verification.email_verification",
            ],
        },
    },
]

# Databases. SQLite by default: WAL lets the web process read while the worker writes, the busy
# timeout waits out short locks, and IMMEDIATE transactions take the write lock up front so a
# transaction that reads and then writes cannot fail at once with "database is locked".
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    except Exception as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if os.environ.get("STUDIO_ASGI"):
        # Under ASGI each request's ORM calls run on a thread of its own: a persistent
        # connection would outlive its thread (studio/asgi.py sets STUDIO_ASGI).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("STUDIO_SQLITE_PATH", VAR_DIR / "studio.sqlite3"),
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not memory: integration tests share the test database with real worker
            # processes.
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-q2's monitoring and our health check read state written by other processes, so the
# cache must be shared between processes: the database is the one thing they all share.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "studio_cache",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out username+address is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # allauth's backend signs in by username or email address.
    "allauth.account.auth_backends.AuthenticationBackend",
    # Kept for sessions (and tests) that name Django's own backend.
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "generate"
LOGOUT_REDIRECT_URL = "account_login"

# --- Accounts: django-allauth (docs/decisions.md) -----------------------------------------------
# The fixed contracts: sign-up takes username, email, password1, password2; sign-in takes a
# username (or an email address) and a password (accounts/forms.py names the field).
# The SSO subclasses (accounts/sso.py) add what password sign-in off (STUDIO_PASSWORD_LOGIN,
# below) changes: sign-up closed, the sign-in form's password refused.
ACCOUNT_ADAPTER = "accounts.sso.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.sso.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# A password-reset request for an unknown address sends nothing (and looks the same).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Image Studio] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# Turning a factor off, or changing the password, asks for a fresh sign-in after this long.
ACCOUNT_REAUTHENTICATION_TIMEOUT = envint("STUDIO_REAUTHENTICATION_SECONDS", 300)
STUDIO_EMAIL_VERIFICATION = os.environ.get("STUDIO_EMAIL_VERIFICATION", "optional")
if STUDIO_EMAIL_VERIFICATION not in ("none", "optional", "mandatory"):
    raise ImproperlyConfigured(
        "STUDIO_EMAIL_VERIFICATION must be none, optional or mandatory, not "
        f"{STUDIO_EMAIL_VERIFICATION!r}."
    )
ACCOUNT_EMAIL_VERIFICATION = STUDIO_EMAIL_VERIFICATION
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True

# Two-step sign-in: TOTP, recovery codes and passkeys (WebAuthn), also as a sign-in without a
# password. The TOTP secret and recovery codes are encrypted with the vault's keys
# (accounts/adapters.py).
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = os.environ.get("STUDIO_TOTP_ISSUER", "Image Studio")
# allauth's default stays: two-step sign-in needs a verified address first, or someone could
# sign up with another's address and lock its owner out with a factor.
# fido2 accepts http://localhost as a secure origin; nothing insecure is allowed.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False

# In production, staff need a second factor, used in the session, to open /admin/.
STUDIO_ADMIN_REQUIRE_MFA = envbool("STUDIO_ADMIN_REQUIRE_MFA", not DEBUG)
# --- end of accounts settings -------------------------------------------------------------------

# Brute-force protection: lock a username+address pair after repeated failures. Behind a proxy
# the client address comes from the header named in STUDIO_CLIENT_IP_HEADER, or every user
# would share the proxy's address. allauth's sign-in form sends the name it was given as
# `username` (accounts/forms.py), which axes reads.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("AXES_COOLOFF_MINUTES", 15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_SENSITIVE_PARAMETERS = ["password"]
# One rule for axes, allauth and the sign-in history (accounts/client_ip.py). It replaces
# django-ipware's, which axes uses only when ipware is installed (it is not).
STUDIO_CLIENT_IP_HEADER = os.environ.get("STUDIO_CLIENT_IP_HEADER", "")
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Media on S3-compatible storage (docs/deploy.md) ------------------------------------------
# Past one machine, images and references must live where every web and worker host can read
# them. STUDIO_S3_BUCKET switches media to django-storages' S3 backend (AWS S3, MinIO, Ceph,
# Cloudflare R2, …); absent, media stays under MEDIA_ROOT. The engine only ever goes through
# Django's storage API, so nothing else changes. Objects stay private: no ACL is set (the
# bucket's default applies) and any URL the storage hands out is signed and expires.


def s3_media_storage(env) -> dict | None:
    """The S3 storage backend's entry for STORAGES["default"], or None for local media."""
    bucket = env.get("STUDIO_S3_BUCKET", "")
    if not bucket:
        return None
    key_id = env.get("AWS_ACCESS_KEY_ID", "")
    secret = env.get("AWS_SECRET_ACCESS_KEY", "")
    if bool(key_id) != bool(secret):
        raise ImproperlyConfigured(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (or both left "
            "unset, to use the host's instance role or ~/.aws credentials)."
        )
    addressing = env.get("AWS_S3_ADDRESSING_STYLE") or None
    if addressing not in (None, "auto", "path", "virtual"):
        raise ImproperlyConfigured(
            f"AWS_S3_ADDRESSING_STYLE must be auto, path or virtual, not {addressing!r}."
        )
    expire = env.get("STUDIO_S3_URL_SECONDS") or "300"
    if not expire.isdigit():
        raise ImproperlyConfigured(f"STUDIO_S3_URL_SECONDS must be a whole number, not {expire!r}.")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "location": env.get("STUDIO_S3_PREFIX", "").strip("/"),
            "endpoint_url": env.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env.get("AWS_S3_REGION_NAME") or None,
            "access_key": key_id or None,
            "secret_key": secret or None,
            "addressing_style": addressing,
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": int(expire),
            # Names are random (studio.models.image_path): never overwrite, never guess.
            "file_overwrite": False,
        },
    }


if s3_storage := s3_media_storage(os.environ):
    STORAGES["default"] = s3_storage
# --- end of S3 media settings -----------------------------------------------------------------

# Email: the console in development, SMTP from the environment in production.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Image Studio <studio@localhost>")
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = envint("EMAIL_PORT", 587)
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    raise ImproperlyConfigured(
        "EMAIL_HOST must name an SMTP server when DEBUG is off (password reset sends email)."
    )

# Production hardening. SSL redirect is on by default and can be turned off when a proxy
# already redirects; the proxy must then set X-Forwarded-Proto.
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Joining browsers' preload list is hard to undo; the operator opts in, and Django's
        # reminder about it would otherwise fail `check --deploy`.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    if envbool("STUDIO_BEHIND_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# A strict Content Security Policy: our own origin only, no inline script, no eval. htmx is
# configured to match (allowEval false, no indicator styles) in base.html's htmx-config meta.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The task queue. django-q2 is only the transport: job state lives on our own rows. `retry` is
# a visibility timeout (a task whose worker died is redelivered after it), so it must exceed
# `timeout`; max_attempts bounds redeliveries of a task that keeps failing.
Q_CLUSTER = {
    "name": "studio",
    "orm": "default",
    "workers": envint("STUDIO_WORKERS", 4),
    "timeout": 240,
    "retry": 300,
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": 1000,
    "catch_up": False,
    "poll": 0.2,
    "label": "Task queue",
}


# --- Redis as the queue broker and cache (docs/deploy.md, docs/decisions.md) -------------------
# STUDIO_QUEUE_URL=redis://[:password@]host:6379/<db> (rediss:// for TLS) moves django-q2's queue
# and Django's cache to that Redis database; without it both stay in the database. The password
# goes in `password` keys (hidden from error reports by name), not in a URL.
def redis_settings(url: str) -> dict:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ImproperlyConfigured(
            "STUDIO_QUEUE_URL must look like redis://host:6379/0 (or rediss:// for TLS)."
        )
    try:
        db = int(parts.path.strip("/") or 0)
        port = parts.port or 6379
    except ValueError:
        raise ImproperlyConfigured(
            "STUDIO_QUEUE_URL: the port and the database number must be whole numbers."
        ) from None
    redis = {"host": parts.hostname, "port": port, "db": db}
    if parts.username:
        redis["username"] = unquote(parts.username)
    if parts.password:
        redis["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        redis["ssl"] = True
    return redis


if os.environ.get("STUDIO_QUEUE_URL"):
    REDIS = redis_settings(os.environ["STUDIO_QUEUE_URL"])
    del Q_CLUSTER["orm"]
    Q_CLUSTER["redis"] = REDIS
    # The broker does not acknowledge: a task popped by a worker that then dies is gone. The
    # engine's sweep redoes such work from its own rows (docs/engine.md, "Redis").
    scheme = "rediss" if REDIS.get("ssl") else "redis"
    CACHES = {
        "default": {
            # Django's RedisCache, with a clear() that removes only the cache's own keys: the
            # queue lives in the same Redis database.
            "BACKEND": "studio.cache.RedisCache",
            "LOCATION": f"{scheme}://{REDIS['host']}:{REDIS['port']}/{REDIS['db']}",
            "KEY_PREFIX": "studio-cache",
            "OPTIONS": {k: REDIS[k] for k in ("username", "password") if k in REDIS},
        }
    }
# --- end of Redis settings ---------------------------------------------------------------------

# Vendor configuration for operators. Base URLs of the vendors (`vendor=url,…`) override the
# defaults from each adapter; extra models let an operator offer models a vendor added.
STUDIO_VENDOR_URLS = envmap("STUDIO_VENDOR_URLS")
# JSON, e.g. {"aioagi": [{"name": "banana", "sizes": ["1024x1024"], "sync": true}]}; a model
# may add free sizes with "size_rule": {"multiple_of": 16, "max_edge": 3840, "min_pixels": …,
# "max_pixels": …, "max_aspect": 3}.
STUDIO_VENDOR_MODELS: dict[str, list[dict]] = vendor_models("STUDIO_VENDOR_MODELS")
# Verifying a key also reads the image models its vendor lists (new-api relays' /v1/models) and
# offers them for that key, with permissive defaults (studio/vendors/catalogue.py).
STUDIO_DISCOVER_MODELS = envbool("STUDIO_DISCOVER_MODELS", False)
# JSON per vendor, e.g. {"chatfire": {"poll_path": "/v1/tasks/{task_id}"}}
STUDIO_VENDOR_OPTIONS: dict[str, dict] = envjson("STUDIO_VENDOR_OPTIONS", {})
# Minutes a job may take, per vendor, before the studio stops waiting and calls it expired.
STUDIO_JOB_DEADLINE_MINUTES = envint("STUDIO_JOB_DEADLINE_MINUTES", 15)
STUDIO_VENDOR_DEADLINES: dict[str, int] = {
    k: int(v) for k, v in envjson("STUDIO_VENDOR_DEADLINES", {}).items()
}
STUDIO_RATE_LIMIT_MARGIN = 1.0
# Per-vendor request limits, [requests, seconds], where a plan differs from the documented one,
# e.g. {"girlgenerator": [20, 60]}.
STUDIO_VENDOR_RATE_LIMITS: dict[str, list] = envjson("STUDIO_VENDOR_RATE_LIMITS", {})
# Keys of vendors with no documented limit learn one from their 429s (engine/ratelimit.py);
# false turns that off (a 429 then only blocks the key until its Retry-After).
STUDIO_RATE_LEARNING = envbool("STUDIO_RATE_LEARNING", True)


def poll_timings(name: str) -> dict[str, tuple[float, float, float]]:
    """Per-vendor poll timing: `{"chatbp": 1}` (every second) or `{"chatbp": [2, 1.5, 10]}`
    (first wait, backoff factor, longest wait, in seconds)."""
    timings = {}
    for vendor, value in envjson(name, {}).items():
        values = value if isinstance(value, list) else [value]
        if (
            not 1 <= len(values) <= 3
            or not all(isinstance(v, int | float) and v > 0 for v in values)
            or (len(values) > 1 and values[1] < 1)
        ):
            raise ImproperlyConfigured(
                f"{name}[{vendor!r}] must be seconds between polls, or [first wait, backoff "
                f"factor ≥ 1, longest wait]; got {value!r}."
            )
        first = float(values[0])
        backoff = float(values[1]) if len(values) > 1 else 1.0
        longest = float(values[2]) if len(values) > 2 else first
        timings[vendor] = (first, backoff, max(first, longest))
    return timings


# How often the engine polls each vendor, where the operator knows better than the adapter's
# default: e.g. a relay without rate limits that finishes in seconds, {"chatbp": 1}. Polls
# still draw from the key's rate budget, so a limited vendor is never polled past its limit.
STUDIO_VENDOR_POLL = poll_timings("STUDIO_VENDOR_POLL")
# Multiplies every wait between polls. Tests and benchmarks run fake vendors on a fast clock;
# production leaves it at 1.
STUDIO_POLL_SCALE = float(os.environ.get("STUDIO_POLL_SCALE", "1"))
STUDIO_POLL_CONCURRENCY = envint("STUDIO_POLL_CONCURRENCY", 16)
# Polling in parallel (docs/engine.md, Polling in parallel): jobs fall into STUDIO_POLL_SHARDS
# shards by key, each held by one poller pass at a time under a lease of
# STUDIO_POLL_LEASE_SECONDS; STUDIO_POLLERS passes run at once. SQLite has one writer lock for
# every process, so a second pass only queues behind the first there: one by default.
STUDIO_POLL_SHARDS = max(1, envint("STUDIO_POLL_SHARDS", 16))
STUDIO_POLLERS = max(
    1, envint("STUDIO_POLLERS", 1 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else 2)
)
STUDIO_POLL_LEASE_SECONDS = max(1, envint("STUDIO_POLL_LEASE_SECONDS", 30))
# Pictures decoded and re-encoded at once per process: bounds memory when many jobs finish
# together (each 2048×2048 result takes tens of MB while it is worked on).
STUDIO_IMAGE_CONCURRENCY = max(1, envint("STUDIO_IMAGE_CONCURRENCY", os.cpu_count() or 2))
# Limits on what vendors send back: bytes per image, seconds per download, pixels per image.
STUDIO_MAX_DOWNLOAD_BYTES = envint("STUDIO_MAX_DOWNLOAD_MB", 40) * 1_000_000
STUDIO_DOWNLOAD_DEADLINE = envint("STUDIO_DOWNLOAD_DEADLINE_SECONDS", 120)
STUDIO_MAX_IMAGE_PIXELS = envint("STUDIO_MAX_IMAGE_MEGAPIXELS", 36) * 1_000_000
STUDIO_PUBLIC_URL = os.environ.get("STUDIO_PUBLIC_URL", "").rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # httpx logs full URLs at INFO: signed result URLs and, for some vendors, keys.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
    },
}

# --- The API (studio/api/, docs/api.md) --------------------------------------------------------
# How long POST /v1/images/… waits for its job before answering with a job reference instead.
STUDIO_API_WAIT_SECONDS = envint("STUDIO_API_WAIT_SECONDS", 120)
# Requests per token per period (seconds); past it, 429 with Retry-After.
STUDIO_API_RATE_LIMIT = (envint("STUDIO_API_RATE_LIMIT", 60), envint("STUDIO_API_RATE_PERIOD", 60))
# Lifetime of the signed image URLs in API replies.
STUDIO_API_URL_SECONDS = envint("STUDIO_API_URL_SECONDS", 3600)
# CORS is off unless the operator names origins (browser apps calling the API directly).
CORS_ALLOWED_ORIGINS = envlist("STUDIO_API_CORS_ORIGINS")
CORS_URLS_REGEX = r"^/(v1|api/v1)/"
CORS_ALLOW_CREDENTIALS = False
# --- end of API settings -----------------------------------------------------------------------

# --- Single sign-on (accounts/sso.py, docs/deploy.md) ---------------------------------------------
# Any OpenID Connect provider, from the environment only: STUDIO_OIDC_PROVIDERS names them
# (ids), and each has STUDIO_OIDC_<ID>_SERVER_URL, _CLIENT_ID, _CLIENT_SECRET, and optionally
# _NAME (shown on the sign-in page) and _GROUPS_CLAIM. The apps live in settings, not in the
# SocialApp table, so that no client secret is ever stored in the database; tokens are not kept.


def oidc_apps(name: str) -> list[dict]:
    apps = []
    for provider_id in envlist(name):
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", provider_id):
            raise ImproperlyConfigured(
                f"{name}: {provider_id!r} must be lowercase letters, digits, - or _."
            )
        prefix = f"STUDIO_OIDC_{provider_id.upper().replace('-', '_')}_"
        missing = [
            prefix + part
            for part in ("SERVER_URL", "CLIENT_ID", "CLIENT_SECRET")
            if not os.environ.get(prefix + part)
        ]
        if missing:
            raise ImproperlyConfigured(f"{', '.join(missing)} must be set for {provider_id}.")
        server_url = os.environ[prefix + "SERVER_URL"].rstrip("/")
        if not server_url.startswith(("https://", "http://")):
            raise ImproperlyConfigured(f"{prefix}SERVER_URL must be an http(s) address.")
        apps.append(
            {
                "provider_id": provider_id,
                "name": os.environ.get(prefix + "NAME") or provider_id,
                "client_id": os.environ[prefix + "CLIENT_ID"],
                "secret": os.environ[prefix + "CLIENT_SECRET"],
                "settings": {
                    "server_url": server_url,
                    "oauth_pkce_enabled": True,
                    "groups_claim": os.environ.get(prefix + "GROUPS_CLAIM", ""),
                },
            }
        )
    return apps


SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": oidc_apps("STUDIO_OIDC_PROVIDERS")}}
STUDIO_SSO_PROVIDER_IDS = [
    a["provider_id"] for a in SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]
]
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_ADAPTER = "accounts.sso.SocialAccountAdapter"
TEMPLATES[0]["OPTIONS"]["context_processors"].append("accounts.sso.sign_in_choices")
# Sign-up through SSO only for these email domains (empty: any domain the provider vouches for).
STUDIO_SSO_ALLOWED_DOMAINS = [d.lower() for d in envlist("STUDIO_SSO_ALLOWED_DOMAINS")]
# New SSO users join teams: by email domain (`example.com=Team name`) and by a value of the
# provider's groups claim (`designers=Team name`).
STUDIO_SSO_TEAM_DOMAINS = {k.lower(): v for k, v in envmap("STUDIO_SSO_TEAM_DOMAINS").items()}
STUDIO_SSO_TEAM_GROUPS = envmap("STUDIO_SSO_TEAM_GROUPS")
# Password sign-in can be turned off once SSO is configured (staff keep /admin/'s own form).
STUDIO_PASSWORD_LOGIN = envbool("STUDIO_PASSWORD_LOGIN", True)
if not STUDIO_PASSWORD_LOGIN and not STUDIO_SSO_PROVIDER_IDS:
    raise ImproperlyConfigured(
        "STUDIO_PASSWORD_LOGIN=false needs an SSO provider (STUDIO_OIDC_PROVIDERS): nobody could "
        "sign in."
    )
