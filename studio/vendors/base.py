"""The contract between the generation engine and the vendor adapters.

Every adapter turns one vendor's HTTP API into the same few results (`Accepted`, `Running`,
`Finished`, `Failed`) and one error taxonomy (`ErrorCode`). Adapters never raise for vendor or
network trouble: they return `Failed` with a message that is safe to show and store.
"""

from __future__ import annotations

import binascii
import email.utils
import json
import math
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx

from studio.vendors.i18n import gettext as _
from studio.vendors.i18n import ngettext

SCENES = ("text-to-image", "image-to-image", "edit")


class ErrorCode(StrEnum):
    BAD_CREDENTIAL = "bad_credential"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    INVALID_PARAMS = "invalid_params"
    CONTENT_POLICY = "content_policy"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    VENDOR_UNAVAILABLE = "vendor_unavailable"
    UNEXPECTED_RESPONSE = "unexpected_response"
    NO_IMAGES = "no_images"


@dataclass(frozen=True)
class VendorError:
    code: ErrorCode
    message: str
    field: str | None = None
    retry_after: float | None = None
    retryable: bool = False
    may_have_charged: bool = False


@dataclass(frozen=True)
class Spend:
    credits_used: Decimal | None = None
    credits_remaining: Decimal | None = None
    tokens: dict | None = None
    images: int | None = None


@dataclass(frozen=True)
class ImageSource:
    url: str | None = None
    data: bytes | None = None
    expires_at: datetime | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Reference:
    url: str | None = None
    data: bytes | None = None
    filename: str = "reference.png"
    content_type: str = "image/png"
    role: Literal["image", "mask"] = "image"


@dataclass(frozen=True)
class GenerationRequest:
    scene: str
    model: str
    prompt: str
    params: dict[str, Any] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Connection:
    base_url: str | None
    # Out of repr: a logged or printed connection must not show the secrets.
    api_key: str = field(repr=False)
    client: httpx.Client
    extra_secret: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    # The largest image the studio keeps (settings.STUDIO_MAX_DOWNLOAD_BYTES): sizes the byte
    # cap on replies that carry images inline as base64.
    max_image_bytes: int = 40_000_000


@dataclass(frozen=True)
class Accepted:
    remote_id: str
    poll_url: str | None = None
    poll_after: float = 5.0
    spend: Spend | None = None
    raw: dict | None = None


@dataclass(frozen=True)
class Running:
    status: str
    progress: int | None = None
    poll_after: float = 5.0
    raw: dict | None = None


@dataclass(frozen=True)
class Finished:
    images: list[ImageSource]
    spend: Spend | None = None
    raw: dict | None = None
    remote_id: str | None = None


@dataclass(frozen=True)
class Failed:
    error: VendorError
    spend: Spend | None = None
    raw: dict | None = None


@dataclass(frozen=True)
class Verification:
    status: Literal["valid", "invalid_key", "no_credits", "unreachable", "unknown"]
    message: str
    balance: Decimal | None = None
    unit: str | None = None


_SIZE = re.compile(r"([0-9]{1,5})x([0-9]{1,5})")


def parse_size(value: Any) -> tuple[int, int] | None:
    """(width, height) from a "WxH" size such as "2048x1152"; None for anything else."""
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if not match or not int(match[1]) or not int(match[2]):
        return None
    return int(match[1]), int(match[2])


@dataclass(frozen=True)
class SizeRule:
    """The free "WxH" sizes a model takes besides its presets: every limit that is set holds.

    Operators write one as a dict in STUDIO_VENDOR_MODELS, e.g. `"size_rule": {"multiple_of":
    64, "max_edge": 2048}`."""

    multiple_of: int = 1
    max_edge: int | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_aspect: float | None = None  # long side ÷ short side

    def __post_init__(self) -> None:
        for name in ("multiple_of", "max_edge", "min_pixels", "max_pixels"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise ValueError(f"Bad size rule: {name} must be a whole number ≥ 1, not {value!r}")
        aspect = self.max_aspect
        if aspect is not None and (
            not isinstance(aspect, int | float) or isinstance(aspect, bool) or aspect < 1
        ):
            raise ValueError(f"Bad size rule: max_aspect must be a number ≥ 1, not {aspect!r}")

    @classmethod
    def from_dict(cls, data: Any) -> SizeRule:
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__):
            raise ValueError(
                f"Bad size rule {data!r}: a dict with keys from {sorted(cls.__dataclass_fields__)}"
            )
        return cls(**data)

    def broken(self, width: int, height: int) -> str | None:
        """The name of the first limit that width × height breaks, or None when all hold."""
        long, short = max(width, height), min(width, height)
        if width % self.multiple_of or height % self.multiple_of:
            return "multiple_of"
        if self.max_edge is not None and long > self.max_edge:
            return "max_edge"
        if self.min_pixels is not None and width * height < self.min_pixels:
            return "min_pixels"
        if self.max_pixels is not None and width * height > self.max_pixels:
            return "max_pixels"
        if self.max_aspect is not None and long > short * self.max_aspect:
            return "max_aspect"
        return None

    def message(self, limit: str) -> str:
        """An English sentence naming the broken limit (the web form has translated ones)."""
        value = getattr(self, limit)
        if limit == "multiple_of":
            return f"Width and height must be multiples of {value}."
        if limit == "max_edge":
            return f"The longest side can be at most {value:,} pixels."
        if limit == "min_pixels":
            return f"The image needs at least {value:,} pixels (width × height)."
        if limit == "max_pixels":
            return f"The image can have at most {value:,} pixels (width × height)."
        return f"The long side can be at most {value:g} times the short side ({value:g}:1)."


# gpt-image-2 on any relay. Source: docs.aiandgpu.com, gpt-image-2 image-edit page (free sizes:
# multiples of 16, longest edge ≤ 3840, 655,360–8,294,400 pixels, aspect ≤ 3:1).
GPT_IMAGE_2_SIZES = SizeRule(
    multiple_of=16, max_edge=3840, min_pixels=655_360, max_pixels=8_294_400, max_aspect=3.0
)
# The OpenAI images API's own settings for GPT Image models, as every relay passes them on.
GPT_IMAGE_CHOICES: dict[str, tuple[str, ...]] = {
    "quality": ("low", "medium", "high", "auto"),
    "background": ("transparent", "opaque", "auto"),
    "output_format": ("png", "jpeg", "webp"),
    "moderation": ("auto", "low"),
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str
    scenes: tuple[str, ...] = ("text-to-image",)
    size_param: Literal["size", "aspect_ratio"] | None = "size"
    sizes: tuple[str, ...] = ()
    default_size: str | None = None
    n_max: int = 1
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sync: bool = False
    max_references: int = 0
    # Free "WxH" sizes besides the presets in `sizes`; None: only the presets.
    size_rule: SizeRule | None = None
    # Takes one edit mask (a PNG the size of the first image), where the vendor documents it.
    masks: bool = False

    def __post_init__(self) -> None:
        if self.size_rule is not None and self.size_param != "size":
            raise ValueError(f"Model {self.name!r}: a size_rule needs size_param 'size'")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Build a spec from an operator's settings entry (lists become tuples, a size_rule
        dict a SizeRule)."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown or "name" not in data:
            raise ValueError(f"Bad model entry {data!r}: needs 'name', unknown keys {unknown}")
        values = dict(data)
        values.setdefault("label", data["name"])
        for key in ("scenes", "sizes"):
            if key in values:
                values[key] = tuple(values[key])
        values["choices"] = {k: tuple(v) for k, v in values.get("choices", {}).items()}
        if values.get("size_rule") is not None and not isinstance(values["size_rule"], SizeRule):
            values["size_rule"] = SizeRule.from_dict(values["size_rule"])
        return cls(**values)

    def size_error(self, value: Any) -> str | None:
        """None when `value` is one of the presets or a "WxH" the size rule allows; otherwise
        an English sentence saying what is wrong."""
        if value in self.sizes:
            return None
        presets = ", ".join(self.sizes)
        if self.size_rule is None:
            return f"Choose one of: {presets}."
        size = parse_size(value)
        if size is None:
            example = "the size as WIDTHxHEIGHT, e.g. 2048x1152"
            return (
                f"Choose one of: {presets}, or write {example}." if presets else f"Write {example}."
            )
        broken = self.size_rule.broken(*size)
        return self.size_rule.message(broken) if broken else None


@dataclass(frozen=True)
class Capabilities:
    scenes: tuple[str, ...]
    models: tuple[ModelSpec, ...]
    prompt_max: int | None = None
    reference_mode: Literal["url", "multipart"] | None = None

    def model(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name), None)

    def with_models(self, extra: Iterable[ModelSpec | dict]) -> Capabilities:
        """Operator models replace built-in ones of the same name and add new ones."""
        added = [m if isinstance(m, ModelSpec) else ModelSpec.from_dict(m) for m in extra]
        names = {m.name for m in added}
        models = tuple(m for m in self.models if m.name not in names) + tuple(added)
        scenes = tuple(s for s in SCENES if any(s in m.scenes for m in models))
        return Capabilities(scenes, models, self.prompt_max, self.reference_mode)


# --- secrets and raw replies ---------------------------------------------------------------

REDACTED = "[redacted]"
_BEARER = re.compile(r"Bearer\s+[^\s\"',;)]+", re.IGNORECASE)
# Relays echo keys in their own words ("invalid token sk-…"), not only as a Bearer header.
_KEYLIKE = re.compile(r"\b(?:sk|mt)-[A-Za-z0-9_\-]{6,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/=_\-\s]+")


# A vendor may quote only part of a key (its message was cut, or it shows a prefix): any run
# of this many characters of a secret is as good as the secret, so it goes too.
SECRET_RUN = 12


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without the secrets, whole or any run of SECRET_RUN of their characters, and
    without Bearer tokens or key-shaped words. The one rule for every text kept from a vendor
    (raw replies, messages, the ledger, the vault's status messages)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = _redact_runs(text.replace(secret, REDACTED), secret)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    return _KEYLIKE.sub(REDACTED, text)


def _redact_runs(text: str, secret: str) -> str:
    spans = []
    for i in range(len(secret) - SECRET_RUN + 1):
        run = secret[i : i + SECRET_RUN]
        at = text.find(run)
        while at != -1:
            spans.append((at, at + SECRET_RUN))
            at = text.find(run, at + 1)
    if not spans:
        return text
    # Overlapping windows of one echoed fragment become a single [redacted].
    parts, end = [], 0
    for start, stop in sorted(spans):
        if start > end or not parts:
            parts += [text[end:start], REDACTED]
        end = max(end, stop)
    return "".join(parts) + text[end:]


def excerpt(text: str, secrets: Iterable[str | None] = (), limit: int = 500) -> str:
    """The first `limit` characters of a vendor's text, scrubbed *before* the cut: a key that
    straddles the cut is still whole (and found) when scrub looks at it.

    Only a window is scrubbed, as a reply may be megabytes long: it holds any secret that
    starts before the cut, with room for a Bearer token or key-shaped word across it."""
    secrets = tuple(secrets)
    longest = max((len(s) for s in secrets if s), default=0)
    return scrub(text[: limit + longest + 100], secrets)[:limit]


def clean_raw(value: Any, secrets: Iterable[str | None] = (), key: str | None = None) -> Any:
    """The vendor's JSON with base64 payloads replaced by placeholders and secrets scrubbed,
    in object keys as well as values (a vendor may echo a key as `{"sk-…": …}`)."""
    secrets = tuple(secrets)
    if isinstance(value, dict):
        return {scrub(str(k), secrets): clean_raw(v, secrets, k) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_raw(v, secrets) for v in value]
    if isinstance(value, str):
        is_data_url = value.startswith("data:") and ";base64," in value[:100]
        if key == "b64_json" or is_data_url or (len(value) > 512 and _BASE64.fullmatch(value)):
            return f"<base64 {len(value)} chars>"
        return scrub(value, secrets)
    return value


def scrubbed(result: Any, secrets: Iterable[str | None]) -> Any:
    """A result with every vendor text the engine keeps scrubbed: the raw reply, the error
    message, and the usage the ledger stores. Adapters build these from many places; this is
    the one door they all leave by."""
    secrets = tuple(secrets)
    changes: dict[str, Any] = {}
    if getattr(result, "raw", None) is not None:
        changes["raw"] = clean_raw(result.raw, secrets)
    spend = getattr(result, "spend", None)
    if spend is not None and spend.tokens:
        changes["spend"] = replace(spend, tokens=clean_raw(spend.tokens, secrets))
    if isinstance(result, Failed):
        changes["error"] = replace(result.error, message=scrub(result.error.message, secrets))
    return replace(result, **changes) if changes else result


def decode_b64(text: str) -> bytes:
    if text.startswith("data:"):
        text = text.partition(",")[2]
    # binascii reads an ASCII str in place; base64.b64decode would first copy it to bytes,
    # a third copy of an image that may be tens of megabytes.
    return binascii.a2b_base64(text)


def sniff_content_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header in either of its forms (RFC 9110 10.2.3)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def join_url(base_url: str, path: str) -> str:
    """Join a base URL (scheme://host[/prefix], a trailing /v1 tolerated) and a /v1/… path."""
    base = base_url.rstrip("/")
    # `/api/…` is a relay's own route beside its `/v1` API (new-api's `/api/status`).
    if base.endswith("/v1") and path.startswith(("/v1/", "/api/")):
        base = base[:-3]
    return base + path


def same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


# --- error mapping ---------------------------------------------------------------------------

_CONTENT_POLICY = re.compile(
    r"content[ _-]?polic|moderation[ _-]?block|safety[ _-]?(system|violation|filter)|nsfw"
    r"|sensitive|违规|敏感|审核",
    re.IGNORECASE,
)
_INSUFFICIENT = re.compile(r"insufficient|quota|not enough|balance|余额|额度", re.IGNORECASE)
# A used-up key, in the words of new-api ("该令牌额度已用尽", HTTP 401), OpenAI
# ("insufficient_quota") and LemonData (402 "insufficient_balance", "quota_exceeded").
# Narrower than _INSUFFICIENT: a 401 that merely mentions a quota must stay "bad key".
_QUOTA_GONE = re.compile(
    r"额度已用尽|额度不足|余额不足|用尽|欠费"
    r"|quota[ _-]?(is[ _-]?)?(exhausted|exceeded|used[ _-]?up|not[ _-]?enough|insufficient)"
    r"|insufficient[ _-]?(user[ _-]?)?(quota|balance|credits?|funds)"
    r"|(no|not enough)[ _-]?(credits?|balance|quota)[ _-]?(left|remaining)?",
    re.IGNORECASE,
)
# new-api: 400 task_not_exist; LemonData: async_task_not_found; girlgenerator: task_not_found.
_TASK_UNKNOWN = re.compile(r"task[ _-]?not[ _-]?(found|exists?)|(^|\s|_)not[ _-]?exists?\b", re.I)
_NOT_FOUND = re.compile(r"not[_ ]?found|not[_ ]?exists?|不存在", re.IGNORECASE)
# Vendors that do not say which field they reject usually name it in the message.
_PARAM_NAME = re.compile(
    r"\b(prompt|model|size|aspect_ratio|n|quality|style|background|output_format"
    r"|output_compression|moderation|input_fidelity|response_format|image_input|image|mask|url"
    r"|scene)\b"
)


def is_content_policy(text: str) -> bool:
    return bool(_CONTENT_POLICY.search(text))


def looks_not_found(text: str) -> bool:
    return bool(_NOT_FOUND.search(text))


def error_details(body: Any) -> tuple[str, str, str | None]:
    """(vendor code, vendor message, field) from the error shapes our vendors use."""
    if not isinstance(body, dict):
        return "", "", None
    err = body.get("error", body)
    if isinstance(err, str):
        return str(body.get("code") or ""), err, None
    if not isinstance(err, dict):
        return "", "", None
    code = " ".join(str(err[k]) for k in ("code", "type") if err.get(k))
    message = err.get("message") or err.get("msg") or ""
    detail = err.get("detail")
    found = err.get("param") or err.get("field")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        message = message or str(detail[0].get("msg", ""))
        loc = detail[0].get("loc")
        found = found or (str(loc[-1]) if isinstance(loc, list) and loc else None)
    elif isinstance(detail, str):
        message = message or detail
    message = str(message)
    if not found:
        found = (match := _PARAM_NAME.search(message)) and match.group(1)
    return code, message, str(found) if found else None


def _sentence(text: str, detail: str) -> str:
    if not detail:
        return text
    detail = " ".join(detail.split())[:300].rstrip(".")
    return _("%(sentence)s The vendor said: “%(detail)s”.") % {"sentence": text, "detail": detail}


def error_from_response(
    resp: httpx.Response, *, stage: str, label: str, secrets: Iterable[str | None]
) -> VendorError:
    status = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = None
    code, message, found = error_details(body)
    detail = scrub(message, secrets)
    words = f"{code} {message}"

    if status == 402 or (
        status in (400, 401, 403, 429)
        and (_QUOTA_GONE.search(words) or (status != 401 and _INSUFFICIENT.search(code)))
    ):
        return VendorError(
            ErrorCode.INSUFFICIENT_CREDITS,
            _sentence(
                _("Your %(vendor)s account has no credits left for this key.") % {"vendor": label},
                detail,
            ),
        )
    if status == 401:
        return VendorError(
            ErrorCode.BAD_CREDENTIAL,
            _sentence(_("%(vendor)s rejected the API key.") % {"vendor": label}, detail),
        )
    if 400 <= status < 500 and "model_not_allowed" in code:
        return VendorError(
            ErrorCode.INVALID_PARAMS,
            _sentence(
                _("%(vendor)s does not allow this key to use the chosen model.")
                % {"vendor": label},
                detail,
            ),
            field="model",
        )
    if 400 <= status < 500 and status != 429 and is_content_policy(words):
        return VendorError(
            ErrorCode.CONTENT_POLICY,
            _sentence(
                _("%(vendor)s refused the request under its content policy.") % {"vendor": label},
                detail,
            ),
        )
    if status == 404 or (400 <= status < 500 and status != 429 and _TASK_UNKNOWN.search(code)):
        return VendorError(
            ErrorCode.NOT_FOUND,
            _sentence(
                _("%(vendor)s does not know this task; it may have expired.") % {"vendor": label},
                detail,
            ),
        )
    if status == 403:
        return VendorError(
            ErrorCode.BAD_CREDENTIAL,
            _sentence(_("%(vendor)s refused this API key.") % {"vendor": label}, detail),
        )
    if status == 429:
        wait = parse_retry_after(resp.headers.get("Retry-After"))
        when = f"in {math.ceil(wait)} seconds" if wait is not None else "in a minute"
        return VendorError(
            ErrorCode.RATE_LIMITED,
            f"{label} is rate limiting this key; the studio will try again {when}.",
            retry_after=wait,
            retryable=True,
        )
    if status in (400, 413, 422):
        return VendorError(
            ErrorCode.INVALID_PARAMS,
            _sentence(_("%(vendor)s rejected the request parameters.") % {"vendor": label}, detail),
            field=found,
        )
    if status >= 500:
        return server_error(status, stage, label)
    return VendorError(
        ErrorCode.UNEXPECTED_RESPONSE,
        _sentence(f"{label} answered with an unexpected HTTP {status}.", detail),
        retryable=stage != "submit",
    )


def server_error(status: int, stage: str, label: str) -> VendorError:
    if stage == "submit":
        return VendorError(
            ErrorCode.VENDOR_UNAVAILABLE,
            f"{label} had a server error (HTTP {status}) while taking the request. It may "
            f"still have generated, and charged for, the images: check your {label} account "
            "before trying again.",
            may_have_charged=True,
        )
    return VendorError(
        ErrorCode.VENDOR_UNAVAILABLE,
        f"{label} had a server error (HTTP {status}); the studio will ask again.",
        retryable=True,
    )


def transport_error(exc: httpx.TransportError, stage: str, label: str) -> VendorError:
    if isinstance(exc, httpx.UnsupportedProtocol):
        return VendorError(
            ErrorCode.VENDOR_UNAVAILABLE, f"The base URL configured for {label} is not valid."
        )
    # Only these errors prove the request never left this machine.
    never_sent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
    if stage != "submit" or isinstance(exc, never_sent):
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        return VendorError(
            ErrorCode.VENDOR_UNAVAILABLE,
            f"Could not reach {label}: the connection {kind}.",
            retryable=True,
        )
    return VendorError(
        ErrorCode.VENDOR_UNAVAILABLE,
        f"{label} did not answer the generation request in full. It may have started, and "
        f"charged for, the images: check your {label} account before trying again.",
        may_have_charged=True,
    )


def unexpected_reply(stage: str, label: str, missing: str | None = None) -> VendorError:
    """A reply the studio cannot read; `missing` names what it lacked ("no task id and no
    images"), so support and the user see more than "not understood"."""
    what = (
        f"{label}'s reply had {missing}."
        if missing
        else f"{label} sent a reply the studio could not understand."
    )
    if stage == "submit":
        return VendorError(
            ErrorCode.UNEXPECTED_RESPONSE,
            f"{what} It may have charged for the images: check your {label} account.",
            may_have_charged=True,
        )
    return VendorError(ErrorCode.UNEXPECTED_RESPONSE, what, retryable=True)


def generation_failed(label: str, detail: str, secrets: Iterable[str | None]) -> VendorError:
    """A task the vendor reports as failed: content policy, or it simply could not make it."""
    detail = scrub(detail or "", secrets)
    if is_content_policy(detail):
        return VendorError(
            ErrorCode.CONTENT_POLICY,
            _sentence(
                _("%(vendor)s refused the request under its content policy.") % {"vendor": label},
                detail,
            ),
        )
    return VendorError(
        ErrorCode.VENDOR_UNAVAILABLE,
        _sentence(f"{label} could not generate the images.", detail),
    )


# Task states as the vendors and the relays they run on spell them (VENDORS.md, "What the
# vendors really send"). Anything else is "still running" until the job's deadline.
SUCCEEDED = frozenset(
    {"succeeded", "success", "completed", "complete", "done", "finished", "uploaded"}
    | {"succeeded_uploaded", "succeed"}
)
FAILED = frozenset({"failed", "failure", "fail", "error", "errored"})
# Ends that are not the generation failing: the task was stopped or dropped.
STOPPED = {
    "cancelled": "was cancelled",
    "canceled": "was cancelled",
    "expired": "expired",
    "timeout": "timed out",
    "timed_out": "timed out",
    "timedout": "timed out",
}


def task_stopped(label: str, why: str, detail: str, secrets: Iterable[str | None]) -> VendorError:
    """A task the vendor ended without making images: cancelled, expired or timed out."""
    return VendorError(
        ErrorCode.VENDOR_UNAVAILABLE,
        _sentence(f"The task at {label} {why} before any image was made.", scrub(detail, secrets)),
    )


class ReplyNotUnderstood(ValueError):
    """An adapter found a reply without what it needs; the message names what was missing."""


def no_images(label: str) -> VendorError:
    return VendorError(
        ErrorCode.NO_IMAGES,
        f"{label} reported success but delivered no images. The credits were probably spent.",
        may_have_charged=True,
    )


# --- reading replies -------------------------------------------------------------------------

# Replies without images (errors, task states, key checks) are a few kilobytes; 2 MB is ample.
CONTROL_REPLY_BYTES = 2_000_000


def image_reply_bytes(images: int, max_image_bytes: int) -> int:
    """The cap on a reply that may carry `images` images inline: each the largest image the
    studio keeps, as base64 (4 characters for 3 bytes), plus room for the JSON around them."""
    return images * (max_image_bytes * 4 // 3 + 4) + CONTROL_REPLY_BYTES


class ReplyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def read_capped(resp: httpx.Response, limit: int) -> bytearray:
    """A streamed reply's body, refused (ReplyTooLarge) as soon as it passes `limit` bytes.

    Bytes are counted as they come off the wire (`iter_raw`), and again after inflating when a
    vendor compresses although asked not to, so neither a huge reply nor a small gzip bomb can
    fill the worker's memory before the count stops it.
    """
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ReplyTooLarge(limit)
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding in ("gzip", "deflate") else None
    if resp.is_stream_consumed:
        # httpx.MockTransport hands over a body already read and decoded: nothing to stream.
        chunks, inflate = [resp.content], None
    else:
        chunks = resp.iter_raw()
    body = bytearray()
    for chunk in chunks:
        if inflate is not None:
            chunk = inflate.decompress(chunk, limit + 1 - len(body))
        body += chunk
        if len(body) > limit:
            raise ReplyTooLarge(limit)
    return body


def reply_text(content: bytearray, charset: str | None) -> str:
    """The body as text: UTF-8 (what JSON is), else its declared charset. Empties `content`,
    so that a large reply is not held as bytes and as text at once."""
    try:
        text = content.decode()
    except UnicodeDecodeError:
        try:
            text = content.decode(charset or "utf-8", "replace")
        except LookupError:
            text = content.decode("utf-8", "replace")
    content.clear()
    return text


def reply_too_large(stage: str, label: str, limit: int) -> VendorError:
    size = f"{label} sent a reply larger than {max(1, round(limit / 1_000_000))} MB"
    if stage == "submit":
        return VendorError(
            ErrorCode.UNEXPECTED_RESPONSE,
            f"{size}, more than the studio reads for this request, so it was not read. It may "
            f"have charged for the images: check your {label} account.",
            may_have_charged=True,
        )
    # Not retryable: asking again would most likely fetch the same oversized reply each time.
    return VendorError(
        ErrorCode.UNEXPECTED_RESPONSE,
        f"{size}, more than the studio reads, so it stopped asking about this job.",
    )


class VendorFailure(Exception):
    """Raised inside adapters to end a call with `Failed`; never escapes `Adapter`."""

    def __init__(self, error: VendorError, raw: dict | None = None) -> None:
        super().__init__(error.code)
        self.error = error
        self.raw = raw


@dataclass
class Call:
    """One submit, poll or verify: sends requests and remembers the last cleaned reply."""

    adapter: Adapter
    conn: Connection
    stage: Literal["submit", "poll", "verify"]
    raw: dict | None = None
    # How many images a reply to this call may carry inline as base64: sizes its byte cap.
    images: int = 0

    @property
    def secrets(self) -> tuple[str | None, ...]:
        return (self.conn.api_key, self.conn.extra_secret) if self.conn else ()

    @property
    def reply_limit(self) -> int:
        if not self.images:
            return CONTROL_REPLY_BYTES
        return image_reply_bytes(self.images, self.conn.max_image_bytes)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        read_timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        label = self.adapter.label
        if not self.conn.base_url:
            raise VendorFailure(
                VendorError(ErrorCode.VENDOR_UNAVAILABLE, f"No base URL is set for {label}.")
            )
        headers = {
            "Authorization": f"Bearer {token or self.conn.api_key}",
            # The bytes as they are, so that the cap counts what this process will hold.
            "Accept-Encoding": "identity",
        }
        if read_timeout is not None:
            timeout = self.conn.client.timeout
            kwargs["timeout"] = httpx.Timeout(
                connect=timeout.connect, read=read_timeout, write=timeout.write, pool=timeout.pool
            )
        absolute = path.startswith(("http://", "https://"))
        url = path if absolute else join_url(self.conn.base_url, path)
        try:
            # Streamed: `client.request` would read any size of reply into memory, twice over.
            with self.conn.client.stream(method, url, headers=headers, **kwargs) as resp:
                limit = self.reply_limit if resp.is_success else CONTROL_REPLY_BYTES
                content = read_capped(resp, limit)
        except httpx.TransportError as exc:
            raise VendorFailure(transport_error(exc, self.stage, label)) from None
        except ReplyTooLarge as exc:
            self.raw = {"http_status": resp.status_code, "text": f"(over {exc.limit} bytes)"}
            raise VendorFailure(reply_too_large(self.stage, label, exc.limit), self.raw) from None
        except zlib.error:
            content = bytearray()  # compressed, though we asked not to, and corrupt: unreadable
        # An error reply is small (CONTROL_REPLY_BYTES): keep its bytes for the error mapping.
        error_body = None if resp.is_success else bytes(content)
        text = reply_text(content, resp.charset_encoding)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
            self.raw = {"http_status": resp.status_code, "text": excerpt(text, self.secrets)}
        else:
            self.raw = self.clean(body)
        if error_body is not None:
            # The error mapping reads a reply as httpx would have: the same headers, and the
            # body already inflated, so without the headers that describe the wire encoding.
            skip = ("content-encoding", "content-length", "transfer-encoding")
            headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in skip]
            read = httpx.Response(
                resp.status_code, headers=headers, content=error_body, request=resp.request
            )
            raise VendorFailure(
                error_from_response(read, stage=self.stage, label=label, secrets=self.secrets),
                self.raw,
            )
        del text  # from here on only the parsed body is needed
        if body is None:
            raise VendorFailure(unexpected_reply(self.stage, label), self.raw)
        return body

    def clean(self, body: Any) -> dict:
        cleaned = clean_raw(body, self.secrets)
        return cleaned if isinstance(cleaned, dict) else {"body": cleaned}


def verification_from_error(error: VendorError) -> Verification:
    status = {
        ErrorCode.BAD_CREDENTIAL: "invalid_key",
        ErrorCode.INSUFFICIENT_CREDITS: "no_credits",
        ErrorCode.VENDOR_UNAVAILABLE: "unreachable",
    }.get(error.code, "unknown")
    return Verification(status, error.message)  # type: ignore[arg-type]


# new-api reports an unlimited key as a limit of 100,000,000 (controller/billing.go).
UNLIMITED = Decimal(100_000_000)


def unlimited_verification(label: str) -> Verification:
    return Verification(
        "valid",
        _("%(vendor)s accepted the key. Unlimited: no balance reported.") % {"vendor": label},
    )


def balance_verification(label: str, balance: Decimal | None, unit: str | None) -> Verification:
    if balance is None:
        return Verification(
            "valid",
            _("%(vendor)s accepted the key; it does not report a balance.") % {"vendor": label},
        )
    if balance <= 0:
        return Verification(
            "no_credits",
            _("%(vendor)s accepted the key but the balance is empty.") % {"vendor": label},
            balance,
            unit,
        )
    return Verification(
        "valid", _("%(vendor)s accepted the key.") % {"vendor": label}, balance, unit
    )


# --- the adapter base ------------------------------------------------------------------------


class Adapter:
    id: ClassVar[str]
    label: ClassVar[str]
    default_base_url: ClassVar[str | None] = None
    mirrors: ClassVar[dict[str, str]] = {}
    rate_limit: ClassVar[tuple[int, float] | None] = None
    poll_interval: ClassVar[float] = 5.0
    poll_backoff: ClassVar[float] = 1.5
    poll_max: ClassVar[float] = 30.0
    # How long a job typically takes, seconds (low, high): the prior of engine/schedule.py for
    # a rate-limited key until the studio has seen enough jobs. None: poll_interval to 6 ×.
    typical_seconds: ClassVar[tuple[float, float] | None] = None
    # Read timeout for synchronous generations; `conn.options["read_timeout"]` overrides it.
    sync_read_timeout: ClassVar[float] = 180.0
    # Where a key lists the models it may use (new-api relays: GET /v1/models); None: nowhere.
    # Read by studio.vendors.catalogue when the operator turns on STUDIO_DISCOVER_MODELS.
    models_path: ClassVar[str | None] = None
    capabilities: Capabilities

    def __init__(self, extra_models: Iterable[ModelSpec | dict] = ()) -> None:
        extra = list(extra_models)
        if extra:
            self.capabilities = self.capabilities.with_models(extra)

    # The engine calls these four.

    def validate(self, req: GenerationRequest) -> dict[str, str]:
        """Field name → English message for every documented constraint the request breaks."""
        caps, params = self.capabilities, req.params
        errors: dict[str, str] = {}
        if req.scene not in caps.scenes:
            errors["scene"] = _("%(vendor)s does not offer %(scene)s.") % {
                "vendor": self.label,
                "scene": req.scene,
            }
        spec = caps.model(req.model)
        if spec is None:
            errors["model"] = _("%(vendor)s has no model called “%(model)s”.") % {
                "vendor": self.label,
                "model": req.model,
            }
            return errors
        if req.scene not in spec.scenes and "scene" not in errors:
            errors["scene"] = _("%(vendor)s does not offer %(scene)s.") % {
                "vendor": spec.label,
                "scene": req.scene,
            }
        if not req.prompt.strip():
            errors["prompt"] = _("Write a prompt.")
        elif caps.prompt_max and len(req.prompt) > caps.prompt_max:
            errors["prompt"] = ngettext(
                "The prompt is limited to %(count)s character.",
                "The prompt is limited to %(count)s characters.",
                caps.prompt_max,
            ) % {"count": caps.prompt_max}

        allowed = {"n", *spec.choices}
        if spec.size_param:
            allowed.add(spec.size_param)
            size = params.get(spec.size_param)
            if size is not None and (problem := spec.size_error(size)):
                errors[spec.size_param] = problem
        if "output_format" in spec.choices:
            allowed.add("output_compression")
        for name in sorted(set(params) - allowed):
            errors[name] = _("%(model)s does not take “%(name)s”.") % {
                "model": spec.label,
                "name": name,
            }

        n = params.get("n", 1)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= spec.n_max:
            errors["n"] = (
                _("%(model)s makes 1 image per request.") % {"model": spec.label}
                if spec.n_max == 1
                else _("Choose between 1 and %(count)s images.") % {"count": spec.n_max}
            )
        for name, options in spec.choices.items():
            if name in params and params[name] not in options:
                errors[name] = _("Choose one of: %(options)s.") % {"options": ", ".join(options)}
        if "output_compression" in params and "output_compression" not in errors:
            value = params["output_compression"]
            if params.get("output_format") not in ("jpeg", "webp"):
                errors["output_compression"] = _("Compression applies only to jpeg or webp output.")
            elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                errors["output_compression"] = _("Compression is a whole number from 0 to 100.")

        self._validate_references(req, spec, errors)
        errors.update(self.check(req, spec))
        return errors

    def submit(self, conn: Connection, req: GenerationRequest) -> Accepted | Finished | Failed:
        problems = self.validate(req)
        if problems:
            text = " ".join(problems.values())
            return Failed(VendorError(ErrorCode.INVALID_PARAMS, text, field=next(iter(problems))))
        call = Call(self, conn, "submit", images=req.params.get("n", 1))
        return self._guard(call, lambda: self.send(call, req))

    def poll(
        self, conn: Connection, remote_id: str, poll_url: str | None = None
    ) -> Running | Finished | Failed:
        # A finished task may carry its images inline (lemondata, chatfire), and a poll does not
        # know the job's n: allow for the most this vendor makes per request.
        most = max((m.n_max for m in self.capabilities.models), default=1)
        call = Call(self, conn, "poll", images=most)
        return self._guard(call, lambda: self.fetch(call, remote_id, poll_url))

    def verify(self, conn: Connection) -> Verification:
        call = Call(self, conn, "verify")
        try:
            return self.check_key(call)
        except VendorFailure as failure:
            return verification_from_error(failure.error)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
            return Verification(
                "unknown",
                _("%(vendor)s sent a reply the studio did not expect.") % {"vendor": self.label},
            )

    # Each vendor module implements these.

    def send(self, call: Call, req: GenerationRequest) -> Accepted | Finished | Failed:
        raise NotImplementedError

    def fetch(
        self, call: Call, remote_id: str, poll_url: str | None
    ) -> Running | Finished | Failed:
        raise NotImplementedError

    def check_key(self, call: Call) -> Verification:
        raise NotImplementedError

    def check(self, req: GenerationRequest, spec: ModelSpec) -> dict[str, str]:
        """Vendor-specific rules on top of the generic ones."""
        return {}

    # Helpers for the vendor modules.

    def spec(self, req: GenerationRequest) -> ModelSpec:
        spec = self.capabilities.model(req.model)
        if spec is None:
            raise ValueError(f"validate() lets only known models through, not {req.model}")
        return spec

    def sync_timeout(self, call: Call) -> float:
        return float(call.conn.options.get("read_timeout", self.sync_read_timeout))

    def _validate_references(
        self, req: GenerationRequest, spec: ModelSpec, errors: dict[str, str]
    ) -> None:
        images = [r for r in req.references if r.role == "image"]
        masks = [r for r in req.references if r.role == "mask"]
        mode = self.capabilities.reference_mode
        if req.scene == "text-to-image" and req.references:
            errors["references"] = _("Reference images are only for image-to-image and edits.")
        elif req.scene in ("image-to-image", "edit") and not images:
            errors["references"] = _("Add at least one reference image.")
        elif len(images) > spec.max_references:
            errors["references"] = ngettext(
                "%(model)s takes at most %(count)s image.",
                "%(model)s takes at most %(count)s images.",
                spec.max_references,
            ) % {"model": spec.label, "count": spec.max_references}
        elif masks and (req.scene != "edit" or mode != "multipart" or len(masks) > 1):
            errors["mask"] = _("A single mask is possible only for edits.")
        elif masks and not spec.masks:
            errors["mask"] = _("%(model)s takes no mask: send the edit without one.") % {
                "model": spec.label
            }
        elif masks and masks[0].content_type != "image/png":
            errors["mask"] = _("The mask must be a PNG image.")
        elif mode == "url" and any(not r.url for r in images):
            errors["references"] = _("%(vendor)s needs reference images as URLs.") % {
                "vendor": self.label
            }
        elif mode == "multipart" and any(not r.data for r in req.references):
            errors["references"] = _("%(vendor)s needs reference images as files.") % {
                "vendor": self.label
            }

    def _guard(self, call: Call, work: Callable[[], Any]) -> Any:
        try:
            result = work()
        except VendorFailure as failure:
            result = Failed(failure.error, None, failure.raw or call.raw)
        except ReplyNotUnderstood as exc:
            result = Failed(unexpected_reply(call.stage, self.label, str(exc)), None, call.raw)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
            # A reply of the wrong shape: the vendor's words are in call.raw for support.
            result = Failed(unexpected_reply(call.stage, self.label), None, call.raw)
        return scrubbed(result, call.secrets)
