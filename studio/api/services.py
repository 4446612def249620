"""The API's rules, apart from its views: tokens, their rate limit, targets, and replies.

The API reaches the engine only through `studio.engine.services` and keys only as
`Credential.objects.usable()`, as the generate form does: no secret is read here.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Credential
from accounts.tokens import new_token, token_hash
from studio.api.models import ApiToken, ApiTokenEvent
from studio.compare.services import revised_prompt
from studio.engine import services as engine
from studio.models import Generation, Image

Event = ApiTokenEvent.Kind
# A prefix that says what the secret is (and lets secret scanners find leaked ones).
TOKEN_PREFIX = "sk-studio-"
FILE_SALT = "studio.api.file"
# last_used_at is written at most this often per token: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


# --- Tokens --------------------------------------------------------------------------------------


def create_token(owner, *, name: str, scope: str, expires_at=None, via: str = "web"):
    """A new token and its secret, shown once; only the hash is stored."""
    secret, _hash = new_token()
    secret = TOKEN_PREFIX + secret
    with transaction.atomic():
        token = ApiToken.objects.create(
            owner=owner,
            name=name,
            scope=scope,
            token_hash=token_hash(secret),
            last4=secret[-4:],
            expires_at=expires_at,
        )
        log(token, Event.CREATED, via)
    return token, secret


def revoke_token(token: ApiToken, via: str = "web") -> bool:
    """Takes effect at once: every request looks the token up again."""
    with transaction.atomic():
        done = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if done:
            log(token, Event.REVOKED, via)
    return bool(done)


def log(token: ApiToken, kind: str, detail: str = "") -> None:
    ApiTokenEvent.objects.create(
        owner_id=token.owner_id,
        token=token,
        name=token.name,
        last4=token.last4,
        kind=kind,
        detail=detail[:200],
    )


class TokenRefused(Exception):
    """A token that cannot be used here; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, code: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.retry_after = status, message, code, retry_after


def authenticate(secret: str, *, scope: str, path: str) -> ApiToken | None:
    """The live token for `secret` allowed to do `scope`, or None for an unknown one.

    Raises TokenRefused for a revoked or expired token (401), a read-only token asked to
    generate (403) and a token past its rate limit (429)."""
    token = (
        ApiToken.objects.select_related("owner")
        .filter(token_hash=token_hash(secret), owner__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if not token.is_live(now):
        log(token, Event.REFUSED, path)
        raise TokenRefused(401, "This token was revoked or has expired.", "invalid_api_key")
    if scope == ApiToken.Scope.GENERATE and token.scope != ApiToken.Scope.GENERATE:
        log(token, Event.SCOPE, path)
        raise TokenRefused(
            403, "This token is read-only: it cannot generate images.", "insufficient_scope"
        )
    wait = rate_limited(token)
    if wait:
        log(token, Event.RATE_LIMITED, path)
        raise TokenRefused(
            429,
            "This token's rate limit is reached; try again shortly.",
            "rate_limit_exceeded",
            wait,
        )
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def rate_limited(token: ApiToken) -> int:
    """Counts the request in the token's fixed window; 0 if it may go on, else the seconds to
    wait. The counter lives in the shared (database) cache, so every web process sees it."""
    limit, period = settings.STUDIO_API_RATE_LIMIT
    now = time.time()
    window = int(now // period)
    key = f"api-rate:{token.pk}:{window}"
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        count = 1
    if count <= limit:
        return 0
    return max(1, int((window + 1) * period - now + 0.999))


# --- Targets ("<vendor>/<model>" or "<key label>/<model>") ---------------------------------------


@dataclass(frozen=True)
class Target:
    id: str
    vendor: str
    credential: Credential | None
    model: str


def targets_for(owner) -> list[Target]:
    """Every target the owner may use: the demo, each default key as `<vendor>/<model>`, and
    every usable key as `<key label>/<model>`."""
    targets = [Target(f"demo/{m.name}", "demo", None, m.name) for m in demo_models()]
    for credential in Credential.objects.usable().filter(owner=owner).order_by("vendor", "pk"):
        vendor = credential.vendor
        models = [m.name for m in engine.capabilities(vendor, credential).models]
        if credential.is_default:
            targets += [Target(f"{vendor}/{m}", vendor, credential, m) for m in models]
        targets += [Target(f"{credential.label}/{m}", vendor, credential, m) for m in models]
    return targets


def demo_models():
    return engine.capabilities("demo").models


def resolve_target(owner, name: str) -> Target | None:
    """The target `name` points at, or None. A vendor's name wins over a key's label; among
    labels the longest that fits wins (labels and model names may both contain "/")."""
    prefix, slash, model = name.partition("/")
    if not slash or not model:
        return None
    if prefix == "demo":
        return Target(name, "demo", None, model)
    usable = Credential.objects.usable().filter(owner=owner)
    if prefix in dict(Credential._meta.get_field("vendor").choices):
        credential = usable.filter(vendor=prefix, is_default=True).first()
        if credential is not None:
            return Target(name, prefix, credential, model)
    best = None
    for credential in usable.order_by("pk"):
        fits = name.startswith(credential.label + "/") and len(name) > len(credential.label) + 1
        if fits and (best is None or len(credential.label) > len(best.label)):
            best = credential
    if best is None:
        return None
    return Target(name, best.vendor, best, name[len(best.label) + 1 :])


def engine_params(target: Target, body: dict) -> tuple[dict, dict[str, str]]:
    """The engine's params for an OpenAI request body, and the engine's name → OpenAI's name
    for each renamed parameter (a model whose size is an aspect ratio takes it as `size`)."""
    spec = engine.capabilities(target.vendor, target.credential).model(target.model)
    params = {k: body[k] for k in ("n", "quality", "background", "output_format") if body.get(k)}
    renamed = {}
    if body.get("size") and body["size"] != "auto":
        name = spec.size_param if spec and spec.size_param else "size"
        params[name] = body["size"]
        renamed[name] = "size"
    if params.get("n") == 1:
        params.pop("n")  # the default; models that make one image take no `n` at all
    return params, renamed


# --- Replies -------------------------------------------------------------------------------------


def signed_file_url(request, image: Image) -> str:
    """An expiring URL of the studio's stored copy (never the vendor's): the signature is the
    permission, so any HTTP client can fetch it without the token."""
    token = signing.dumps(image.pk, salt=FILE_SALT)
    return request.build_absolute_uri(reverse("api_file", args=[token]))


def image_for_file_token(token: str) -> Image | None:
    try:
        pk = signing.loads(token, salt=FILE_SALT, max_age=settings.STUDIO_API_URL_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return Image.objects.visible().filter(pk=pk).first()


def cost_of(generation: Generation) -> list[dict]:
    """What the ledger holds for the job, in the vendor's own units and, where the price book
    prices it, in money at the price of its day (`money` null when not priced)."""
    return [
        {
            "kind": e.kind,
            "amount": str(e.amount.normalize()),
            "unit": e.unit,
            "money": None if e.money is None else str(e.money.normalize()),
            "currency": e.currency or None,
        }
        for e in generation.spend.all()
    ]


def image_data(request, image: Image, response_format: str, prompt: str) -> dict:
    item: dict = {"revised_prompt": prompt}
    if response_format == "b64_json":
        with image.file.open("rb") as f:
            item["b64_json"] = base64.b64encode(f.read()).decode()
    else:
        item["url"] = signed_file_url(request, image)
    return item


def job_reply(request, generation: Generation, response_format: str = "url") -> dict:
    """OpenAI's images reply for an ended or running job, with the studio's own object."""
    images = list(generation.images.visible().order_by("index"))
    prompt = revised_prompt(generation.raw_reply) or generation.prompt
    return {
        "created": int(generation.created_at.timestamp()),
        "data": [image_data(request, image, response_format, prompt) for image in images],
        "studio": studio_object(request, generation, images),
    }


def studio_object(request, generation: Generation, images: list[Image] | None = None) -> dict:
    images = list(generation.images.visible().order_by("index")) if images is None else images
    return {
        "job_id": generation.pk,
        "status": generation.status,
        "model": f"{generation.vendor}/{generation.model}",
        "job_url": request.build_absolute_uri(reverse("api:job", args=[generation.pk])),
        "gallery_urls": [
            request.build_absolute_uri(reverse("image", args=[image.pk])) for image in images
        ],
        "cost": cost_of(generation),
        "error": generation.error_message or None,
    }
