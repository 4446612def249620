"""What every fake vendor shares: HTTP plumbing, keys and credits, tasks, files, scenarios,
the request log and the `/_fake/` control endpoint.

A vendor module subclasses `FakeServer` (or `RelayFake` for the OpenAI-style relays) and adds
its routes, reply shapes and validation. Scenarios are one-shot: `fake.next_submit = "500"`
affects the next generation request only. A prompt containing `[fake:<scenario>]` does the
same for that request, which lets a browser session script the fake too.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import threading
import time
import traceback
import urllib.request
from collections import defaultdict, deque
from dataclasses import dataclass, field
from decimal import Decimal
from email.parser import BytesParser
from email.policy import HTTP
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, NamedTuple
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from studio.vendors.demo import render_png

# Replace the vendor's answer: the request is not processed.
PRE_SCENARIOS = (
    "echo_auth",
    "echo_key_fragment",
    "echo_text_straddling_cut",
    "429",
    "429_seconds",
    "429_date",
    "429_text",
    "500",
    "502_html",
    "invalid_params",
    "model_not_allowed",
)
# The request is processed (and charged), then the answer goes wrong.
POST_SCENARIOS = ("read_timeout", "disconnect", "malformed", "echo_key_as_object_key")
# Where the plain-text echo puts the key: across the 500 characters the studio keeps of a reply.
STRADDLE_AT = 484
# The generation itself turns out a particular way. `cancelled` and `expired` end a task
# without images (VENDORS.md, "What the vendors really send").
OUTCOMES = ("content_policy", "no_images", "unknown_status", "b64", "cancelled", "expired")
SCENARIOS = PRE_SCENARIOS + POST_SCENARIOS + OUTCOMES
UNKNOWN_STATUS = "upscaling"
_DIRECTIVE = re.compile(r"\[fake:([a-z0-9_]+)\]")


class Logged(NamedTuple):
    time: float
    method: str
    path: str
    key: str | None


class Route(NamedTuple):
    method: str
    pattern: str
    handler: str
    kind: str = "other"  # submit | poll | verify | other: which next_* scenario applies
    auth: str = "key"  # key | management | none


@dataclass
class Account:
    credits: Decimal
    used: Decimal = Decimal(0)
    management_token: str | None = None
    unlimited: bool = False  # new-api's "unlimited quota" token


@dataclass
class Task:
    id: str
    key: str
    created: float
    outcome: str
    n: int
    width: int
    height: int
    prompt: str
    b64: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    key: str | None = None
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    scenario: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def authorization(self) -> str:
        return self.headers.get("authorization", "")


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list → JSON, bytes/str → as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0
    drop: bool = False


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value))


def parse_request(method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
    parts = urlsplit(target)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    req = Request(method, parts.path, query, headers, body)
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        req.key = auth[7:].strip() or None
    ctype = headers.get("content-type", "")
    if "json" in ctype and body:
        try:
            req.json = json.loads(body)
        except ValueError:
            req.json = None
    elif ctype.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is None:
                req.form[name] = payload.decode()
            else:
                req.files.setdefault(name, []).append((filename, payload))
    return req


def is_image(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception:  # Pillow raises many kinds for garbage; any of them means "not an image"
        return False
    return True


def image_format_size(data: bytes) -> tuple[str | None, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size


class FakeServer:
    vendor: ClassVar[str] = ""
    # Names of the task states: pending, processing, success, failed.
    statuses: ClassVar[tuple[str, str, str, str]] = ("pending", "processing", "success", "failed")
    price: ClassVar[Decimal] = Decimal(1)
    policy_message: ClassVar[str] = "Generation failed due to content policy."
    settable: ClassVar[frozenset[str]] = frozenset(
        {
            "next_submit",
            "next_poll",
            "next_verify",
            "pending_s",
            "processing_s",
            "sync_s",
            "stall_s",
            "file_ttl",
            "rate_limit",
            "variant",
            "retry_after",
        }
    )
    # Ways this vendor is seen to answer beyond its doc excerpt; `variant` picks one (None is
    # the documented shape). Each vendor module lists and implements its own.
    variants: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        pending_s: float = 0.1,
        processing_s: float = 0.1,
        sync_s: float = 0.0,
        stall_s: float = 1.0,
        file_ttl: float = 3600.0,
        rate_limit: tuple[int, float] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.pending_s, self.processing_s, self.sync_s = pending_s, processing_s, sync_s
        self.stall_s, self.file_ttl, self.rate_limit = stall_s, file_ttl, rate_limit
        # Seconds sent as Retry-After with the 429s of `rate_limit` (most vendors send none).
        self.retry_after = retry_after
        self.lock = threading.RLock()
        self.keys: dict[str, Account] = {}
        self.tasks: dict[str, Task] = {}
        self.files: dict[str, tuple[bytes, float]] = {}
        self.requests: list[Logged] = []
        self.bodies: list[tuple[str, Any]] = []
        # The bytes of each edit's mask part (bodies keep only names and lengths).
        self.masks: list[bytes] = []
        self.next_submit: str | None = None
        self.next_poll: str | None = None
        self.next_verify: str | None = None
        self.variant: str | None = None
        self._admitted: dict[str, deque[float]] = defaultdict(deque)
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeServer:
        self._httpd = _Server((self.host, self.port), _Handler)
        self._httpd.fake = self
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- state that tests script ----------------------------------------------------------

    def add_key(
        self,
        key: str,
        credits: float | str | Decimal = 100,
        management_token: str | None = None,
        unlimited: bool = False,
    ) -> None:
        with self.lock:
            self.keys[key] = Account(
                Decimal(str(credits)), management_token=management_token, unlimited=unlimited
            )

    def balance(self, key: str) -> Decimal:
        return self.keys[key].credits

    def set(self, **settings: Any) -> None:
        unknown = set(settings) - self.settable
        if unknown:
            raise ValueError(f"not settable on the {self.vendor} fake: {sorted(unknown)}")
        for name, value in settings.items():
            if name.startswith("next_") and value is not None and value not in SCENARIOS:
                raise ValueError(f"unknown scenario {value!r}; known: {SCENARIOS}")
            if name == "rate_limit" and value is not None:
                value = (int(value[0]), float(value[1]))
            if name == "variant" and value is not None and value not in self.variants:
                raise ValueError(f"unknown variant {value!r}; known: {self.variants}")
            setattr(self, name, value)

    def reset(self) -> None:
        with self.lock:
            self.tasks.clear()
            self.requests.clear()
            self.bodies.clear()
            self.masks.clear()
            self._admitted.clear()
            self.next_submit = self.next_poll = self.next_verify = None
            self.variant = None

    # --- what vendor modules override ----------------------------------------------------

    def routes(self) -> list[Route]:
        return []

    def token_check(self, req: Request) -> Reply | None:
        """A vendor's own check of a known key before any route runs; None lets it through."""
        return None

    def error(self, status: int, code: str, message: str, **extra: Any) -> Reply:
        return Reply(status, {"error": {"code": code, "message": message, **extra}})

    def unauthorized(self, req: Request) -> Reply:
        return self.error(401, "unauthorized", "Missing or invalid API key.")

    def insufficient(self) -> Reply:
        return self.error(403, "insufficient_credits", "Insufficient credits.")

    def rate_limited(self, wait: float, scenario: str | None = None) -> Reply:
        reply = self.error(429, "rate_limit_exceeded", "Too many requests.")
        reply.headers.update(retry_after_headers(scenario))
        if scenario is None and self.retry_after is not None:
            reply.headers["Retry-After"] = f"{self.retry_after:g}"
        return reply

    def invalid(self, name: str, message: str) -> Reply:
        return self.error(422, "invalid_params", f"{name}: {message}")

    def not_found(self) -> Reply:
        return self.error(404, "task_not_found", "Task not found.")

    def server_error(self) -> Reply:
        return self.error(500, "internal_error", "Internal server error.")

    # --- helpers for vendor modules ------------------------------------------------------

    def charge(self, req: Request, amount: Decimal) -> bool:
        with self.lock:
            account = self.keys[req.key or ""]
            if account.unlimited:
                account.used += amount
                return True
            if account.credits < amount or account.credits <= 0:
                return False
            account.credits -= amount
            account.used += amount
            return True

    def new_task(self, req: Request, n: int, width: int, height: int, prompt: str) -> Task:
        outcome = req.scenario if req.scenario in OUTCOMES else "success"
        task = Task(
            secrets.token_hex(8),
            req.key or "",
            time.monotonic(),
            outcome,
            n,
            width,
            height,
            prompt,
            b64=outcome == "b64",
        )
        with self.lock:
            self.tasks[task.id] = task
        return task

    def own_task(self, req: Request, task_id: str) -> Task | None:
        task = self.tasks.get(task_id)
        return task if task and task.key == req.key else None

    def status_of(self, task: Task, req: Request | None = None) -> str:
        if req is not None and req.scenario == "unknown_status":
            return UNKNOWN_STATUS
        elapsed = time.monotonic() - task.created
        pending, processing, success, failed = self.statuses
        if elapsed < self.pending_s:
            return pending
        if elapsed < self.pending_s + self.processing_s:
            return processing
        if task.outcome in ("cancelled", "expired"):
            return task.outcome
        return failed if task.outcome == "content_policy" else success

    def image_urls(self, task: Task, prefix: str = "") -> list[str]:
        """URLs of the task's images, rendered on first use; none for a no_images outcome."""
        if task.outcome in ("no_images", "cancelled", "expired"):
            return []
        with self.lock:
            if not task.images:
                task.images = [
                    self.store_png(task.width, task.height, task.prompt, f"{task.id}:{i}")
                    for i in range(task.n)
                ]
        return [f"{self.url}/files/{prefix}{name}" for name in task.images]

    def image_b64(self, task: Task) -> list[str]:
        self.image_urls(task)
        return [base64.b64encode(self.files[name][0]).decode() for name in task.images]

    def store_png(self, width: int, height: int, prompt: str, seed: str) -> str:
        name = f"{secrets.token_hex(8)}.png"
        data = render_png(width, height, f"{self.vendor}: {prompt}", seed)
        with self.lock:
            self.files[name] = (data, time.time() + self.file_ttl)
        return name

    def reference_ok(self, url: Any) -> bool:
        """Download a reference URL as the vendor would: it must be public and an image."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return False
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=2) as resp:
                return is_image(resp.read(20_000_000))
        except OSError:
            return False

    # --- dispatch --------------------------------------------------------------------------

    def handle(self, req: Request) -> Reply:
        if req.path.startswith("/_fake/"):
            return self.control(req)
        with self.lock:
            self.requests.append(Logged(time.time(), req.method, _target(req), req.key))
            if req.method == "POST":
                self.bodies.append((req.path, self._summary(req)))
        if req.path.startswith("/files/"):
            return self.serve_file(req.path.rsplit("/", 1)[-1])
        route, params = self._match(req)
        if route is None:
            return self.error(404, "not_found", f"Invalid URL ({req.method} {req.path})")
        req.params = params
        req.scenario = self._take(route.kind, req)
        if req.scenario in PRE_SCENARIOS:
            return self._pre_scenario(req)
        if route.auth == "key" and req.key not in self.keys:
            return self.unauthorized(req)
        if route.auth == "key" and (refused := self.token_check(req)) is not None:
            return refused
        if route.auth == "key" and (wait := self._over_limit(req.key or "")) is not None:
            return self.rate_limited(wait)
        reply = getattr(self, route.handler)(req)
        if req.scenario == "read_timeout":
            reply.delay = self.stall_s
        elif req.scenario == "disconnect":
            reply.drop = True
        elif req.scenario == "malformed":
            reply = Reply(
                200, b'{"task_id": "t-1", "status": "pend', content_type="application/json"
            )
        elif req.scenario == "echo_key_as_object_key" and isinstance(reply.body, dict):
            # The answer filed under the caller's key, at the top and in the usage the studio
            # copies to its ledger: object keys must be scrubbed as well as values.
            key = req.key or ""
            reply.body = {**reply.body, key: {"key": key}}
            if isinstance(reply.body.get("usage"), dict):
                reply.body["usage"] = {**reply.body["usage"], key: key}
        return reply

    def _match(self, req: Request) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes():
            found = re.fullmatch(route.pattern, req.path)
            if found and route.method == req.method:
                return route, found.groupdict()
        return None, {}

    def _take(self, kind: str, req: Request) -> str | None:
        with self.lock:
            scenario = getattr(self, f"next_{kind}", None)
            if scenario:
                setattr(self, f"next_{kind}", None)
                return scenario
        if kind == "submit":
            text = json.dumps(req.json) if req.json is not None else req.form.get("prompt", "")
            found = _DIRECTIVE.search(text)
            return found.group(1) if found and found.group(1) in SCENARIOS else None
        return None

    def _pre_scenario(self, req: Request) -> Reply:
        scenario = req.scenario or ""
        if scenario == "echo_auth":
            # Some vendors quote the rejected credential back: the studio must never show it.
            reply = self.unauthorized(req)
            reply.body["error"]["message"] = f"Invalid credentials: {req.authorization}"
            reply.body["request_headers"] = {"Authorization": req.authorization}
            return reply
        if scenario == "429_text":
            # new-api's own limiter: Chinese text, no Retry-After (controller/relay.go).
            return Reply(429, "您已达到请求数限制：1分钟内最多请求10次", content_type="text/plain")
        if scenario == "echo_key_fragment":
            # Part of the key, as a cut message or a "sk-ab…wxyz" hint would show it.
            reply = self.unauthorized(req)
            key = req.key or ""
            reply.body["error"]["message"] = f"Invalid credentials {key[:16]}…"
            reply.body["key_hint"] = f"…{key[-16:]}"
            return reply
        if scenario == "echo_text_straddling_cut":
            # A proxy's plain-text page quoting the request, the key across the studio's cut.
            text = "Upstream refused the request ".ljust(STRADDLE_AT, ".") + f"{req.key} end"
            return Reply(502, text, content_type="text/plain")
        if scenario.startswith("429"):
            return self.rate_limited(7.0, scenario)
        if scenario == "model_not_allowed":
            return self.error(403, "model_not_allowed", "This key may not use this model.")
        if scenario == "500":
            return self.server_error()
        if scenario == "502_html":
            html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return Reply(502, html, content_type="text/html")
        return self.invalid("prompt", "contains words the vendor does not accept")

    def _over_limit(self, key: str) -> float | None:
        """A sliding window per key over the requests admitted so far."""
        if not self.rate_limit:
            return None
        limit, window = self.rate_limit
        now = time.monotonic()
        with self.lock:
            admitted = self._admitted[key]
            while admitted and admitted[0] <= now - window:
                admitted.popleft()
            if len(admitted) >= limit:
                return admitted[0] + window - now
            admitted.append(now)
        return None

    def serve_file(self, name: str) -> Reply:
        data, expires = self.files.get(name, (b"", 0.0))
        if not data:
            return Reply(404, b"NoSuchKey", content_type="text/plain")
        if time.time() > expires:
            return Reply(403, b"AccessDenied: Request has expired", content_type="text/plain")
        return Reply(200, data, content_type="image/png")

    def _summary(self, req: Request) -> Any:
        if req.json is not None:
            return req.json
        files = {k: [(name, len(data)) for name, data in v] for k, v in req.files.items()}
        return {"form": dict(req.form), "files": files, "query": dict(req.query)}

    # --- the control endpoint ------------------------------------------------------------

    def control(self, req: Request) -> Reply:
        body = req.json if isinstance(req.json, dict) else {}
        try:
            if (req.method, req.path) == ("GET", "/_fake/requests"):
                return Reply(200, {"requests": [list(r) for r in self.requests]})
            if (req.method, req.path) == ("GET", "/_fake/state"):
                return Reply(200, self.state())
            if (req.method, req.path) == ("POST", "/_fake/keys"):
                self.add_key(
                    body["key"],
                    body.get("credits", 100),
                    body.get("management_token"),
                    bool(body.get("unlimited", False)),
                )
                return Reply(200, self.state())
            if (req.method, req.path) == ("POST", "/_fake/set"):
                self.set(**body)
                return Reply(200, self.state())
            if (req.method, req.path) == ("POST", "/_fake/reset"):
                self.reset()
                return Reply(200, self.state())
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"error": str(exc)})
        return Reply(404, {"error": "unknown control path"})

    def state(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "url": self.url,
            "keys": {
                k: {"credits": str(a.credits), "used": str(a.used)} for k, a in self.keys.items()
            },
            "tasks": len(self.tasks),
            "settings": {name: getattr(self, name) for name in sorted(self.settable)},
        }


class RelayFake(FakeServer):
    """OpenAI-style relays built on new-api: their error shape, models list and billing."""

    price = Decimal("0.04")
    policy_message = "Your request was rejected as a result of our safety system."
    models: ClassVar[tuple[str, ...]] = ()
    # new-api lists `supported_endpoint_types` with each model; image models usually lead with
    # "image-generation" (new-api common/endpoint_type.go).
    image_endpoint_types: ClassVar[tuple[str, ...]] = ("image-generation", "openai")
    # Relays sell chat models too: /v1/models lists them beside the image models.
    chat_models: ClassVar[tuple[str, ...]] = ("gpt-4o-mini", "deepseek-chat")
    settable = FakeServer.settable | {"billing", "extra_models", "quota_display_type"}
    # new-api behaviours shared by the relays: a used-up key is refused with HTTP 401 by the
    # token check itself, on every route (middleware TokenAuth).
    variants: ClassVar[tuple[str, ...]] = ("newapi_401_exhausted",)

    def __init__(self, *args: Any, billing: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.billing = billing
        # What the relay's public /api/status says: "USD", "CNY", "TOKENS", or None (no route).
        self.quota_display_type: str | None = None
        # Image models this relay also offers (listed and accepted), e.g. ["flux-2-pro"].
        self.extra_models: list[str] = []

    def offers(self, model: Any) -> bool:
        return model in self.models or model in self.extra_models

    def relay_routes(self) -> list[Route]:
        return [
            Route("GET", r"(/v1)?/dashboard/billing/subscription", "subscription", "verify"),
            Route("GET", r"(/v1)?/dashboard/billing/usage", "usage", "verify"),
            Route("GET", r"/v1/models", "list_models", "verify"),
            Route("GET", r"/api/status", "site_status", "verify", auth="none"),
        ]

    def token_check(self, req: Request) -> Reply | None:
        account = self.keys[req.key or ""]
        used_up = account.credits <= 0 and not account.unlimited
        if self.variant == "newapi_401_exhausted" and used_up:
            return self.error(401, "", "该令牌额度已用尽 TokenStatusExhausted[sk-***]")
        return None

    def site_status(self, req: Request) -> Reply:
        if self.quota_display_type is None:
            return self.error(404, "", f"Invalid URL ({req.method} {req.path})")
        data = {"quota_per_unit": 500000, "quota_display_type": self.quota_display_type}
        return Reply(200, {"success": True, "message": "", "data": data})

    def error(self, status: int, code: str, message: str, **extra: Any) -> Reply:
        request_id = secrets.token_hex(6)
        kind = extra.pop("type", "new_api_error")
        body = {"message": f"{message} (request id: {request_id})", "type": kind, "code": code}
        return Reply(status, {"error": {**body, **extra}})

    def unauthorized(self, req: Request) -> Reply:
        return self.error(401, "invalid_api_key", "Invalid token", type="invalid_request_error")

    def insufficient(self) -> Reply:
        return self.error(403, "insufficient_user_quota", "User quota is not enough")

    def invalid(self, name: str, message: str) -> Reply:
        return self.error(
            400,
            "invalid_value",
            f"Invalid '{name}': {message}",
            type="invalid_request_error",
            param=name,
        )

    def not_found(self) -> Reply:
        return self.error(404, "task_not_found", "Task not found")

    def server_error(self) -> Reply:
        return self.error(500, "internal_error", "upstream error", type="server_error")

    def content_policy(self) -> Reply:
        return self.error(
            400, "moderation_blocked", self.policy_message, type="image_generation_user_error"
        )

    def sync_images(
        self, req: Request, n: int, dims: tuple[int, int], prompt: str, b64: bool, **extra: Any
    ) -> Reply:
        """Wait like a synchronous vendor, then reply `{"created", "data": [...]}`."""
        if req.scenario == "content_policy":
            return self.content_policy()
        time.sleep(self.sync_s)
        task = self.new_task(req, n, *dims, prompt)
        if b64 or task.b64:
            data = [{"b64_json": b} for b in self.image_b64(task)]
        else:
            data = [{"url": url, "revised_prompt": prompt} for url in self.image_urls(task)]
        return Reply(200, {"created": int(time.time()), "data": data, **extra})

    def edit_files(self, req: Request, max_images: int) -> Reply | None:
        """Check a multipart edit as the OpenAI images API does; None when it is acceptable."""
        images = req.files.get("image[]", []) + req.files.get("image", [])
        if not images:
            return self.invalid("image", "at least one image[] file is required")
        if len(images) > max_images:
            return self.invalid("image", f"at most {max_images} images are allowed")
        if not all(is_image(data) for _, data in images):
            return self.invalid("image", "every image[] must be a PNG, JPEG or WEBP image")
        masks = req.files.get("mask", [])
        if len(masks) > 1 or not all(is_image(data) for _, data in masks):
            return self.invalid("mask", "the mask must be one image")
        if masks and image_format_size(masks[0][1]) != ("PNG", image_format_size(images[0][1])[1]):
            # OpenAI's rule, which the relays pass on: a PNG the size of the first image.
            return self.invalid("mask", "the mask must be a PNG the same size as the first image")
        if not req.form.get("prompt", "").strip():
            return self.invalid("prompt", "is required")
        with self.lock:
            self.masks.extend(data for _, data in masks)
        return None

    def subscription(self, req: Request) -> Reply:
        if not self.billing:
            return self.error(404, "", f"Invalid URL ({req.method} {req.path})")
        account = self.keys[req.key or ""]
        # new-api: remaining + used, or exactly 100,000,000 for an unlimited token.
        limit = Decimal(100_000_000) if account.unlimited else account.credits + account.used
        return Reply(
            200,
            {
                "object": "billing_subscription",
                "has_payment_method": True,
                "soft_limit_usd": limit,
                "hard_limit_usd": limit,
                "system_hard_limit_usd": limit,
                "access_until": 0,
            },
        )

    def usage(self, req: Request) -> Reply:
        if not self.billing:
            return self.error(404, "", f"Invalid URL ({req.method} {req.path})")
        return Reply(200, {"object": "list", "total_usage": self.keys[req.key or ""].used * 100})

    def list_models(self, req: Request) -> Reply:
        def item(model: str, types: tuple[str, ...]) -> dict[str, Any]:
            return {
                "id": model,
                "object": "model",
                "owned_by": self.vendor,
                "supported_endpoint_types": list(types),
            }

        images = (*self.models, *self.extra_models)
        data = [item(m, self.image_endpoint_types) for m in images]
        data += [item(m, ("openai",)) for m in self.chat_models]
        return Reply(200, {"object": "list", "data": data})


def retry_after_headers(scenario: str | None, wait: float = 7.0) -> dict[str, str]:
    if scenario == "429_seconds":
        return {"Retry-After": str(round(wait))}
    if scenario == "429_date":
        return {"Retry-After": formatdate(time.time() + wait, usegmt=True)}
    return {}


def gpt_image_2_size_ok(value: Any) -> bool:
    """gpt-image-2's free sizes on any relay (docs.aiandgpu.com, image-edit page): "WxH",
    multiples of 16, longest edge ≤ 3840, 655,360–8,294,400 pixels, aspect ≤ 3:1."""
    found = re.fullmatch(r"(\d+)x(\d+)", value) if isinstance(value, str) else None
    if not found:
        return False
    width, height = int(found[1]), int(found[2])
    return (
        width % 16 == 0
        and height % 16 == 0
        and max(width, height) <= 3840
        and 655_360 <= width * height <= 8_294_400
        and max(width, height) <= 3 * min(width, height)
    )


def size_of(value: Any, default: str = "1024x1024") -> tuple[int, int]:
    width, _, height = str(value if value not in (None, "auto") else default).partition("x")
    return int(width), int(height)


def _target(req: Request) -> str:
    if not req.query:
        return req.path
    return req.path + "?" + "&".join(f"{k}={v}" for k, v in req.query.items())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left is part of the scenarios, not an error


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.server.fake.handle(parse_request(self.command, self.path, headers, body))
        except Exception:  # a bug in a fake should be loud, not a silent disconnect
            traceback.print_exc()
            reply = Reply(500, {"error": {"code": "fake_crashed", "message": "see stderr"}})
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        if isinstance(reply.body, dict | list):
            payload = json.dumps(reply.body, default=_json_default).encode()
        elif isinstance(reply.body, str):
            payload = reply.body.encode()
        else:
            payload = reply.body or b""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
