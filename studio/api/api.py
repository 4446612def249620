"""The OpenAI-compatible endpoints (django-ninja): request validation, the OpenAPI description,
bearer-token auth, and every error in OpenAI's shape.

Only a bearer token opens these endpoints: ninja's views are CSRF-exempt, which is safe because
a session cookie never authenticates here. Generating is an async view: the wait for the job
holds no web worker under ASGI and no queue worker (studio.api.waiting).
"""

from __future__ import annotations

from typing import Literal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest
from ninja import File, Form, NinjaAPI, Query, Schema
from ninja import Status as HttpStatus
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.files import UploadedFile
from ninja.security import HttpBearer
from pydantic import Field, field_validator

from studio.api import services
from studio.api.models import ApiToken
from studio.api.waiting import wait_for_job
from studio.engine import services as engine
from studio.models import Generation, Image
from studio.web import search
from studio.web.paging import keyset_page

Status = Generation.Status
LIST_SIZE = 50


class ApiError(Exception):
    TYPES = {
        400: "invalid_request_error",
        401: "invalid_request_error",
        402: "insufficient_quota",
        403: "permission_error",
        404: "invalid_request_error",
        429: "rate_limit_error",
        502: "api_error",
    }

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.param, self.retry_after = param, retry_after


class Bearer(HttpBearer):
    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        try:
            return services.authenticate(token, scope=self.scope, path=request.path)
        except services.TokenRefused as refused:
            raise ApiError(
                refused.status, refused.message, refused.code, retry_after=refused.retry_after
            ) from None


generate_auth = Bearer(ApiToken.Scope.GENERATE)
read_auth = Bearer(ApiToken.Scope.READ)

api = NinjaAPI(
    title="Image Studio API",
    version="1",
    description="OpenAI-compatible image endpoints over your studio's keys. See docs/api.md.",
    openapi_url="api/openapi.json",
    # Swagger UI would load scripts from a CDN, which the studio's CSP forbids.
    docs_url=None,
    urls_namespace="api",
)


def error(request, exc: ApiError):
    body = {
        "error": {
            "message": exc.message,
            "type": ApiError.TYPES.get(exc.status, "api_error"),
            "param": exc.param,
            "code": exc.code,
        }
    }
    response = api.create_response(request, body, status=exc.status)
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    elif exc.status in (402, 403, 502):
        # OpenAI's SDKs retry 5xx replies by default, and each retry would be a new (paid)
        # job: this header, which they honour, says the same request would fail again.
        response["x-should-retry"] = "false"
    return response


@api.exception_handler(ApiError)
def on_api_error(request, exc: ApiError):
    return error(request, exc)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return error(
        request,
        ApiError(
            401,
            "Send a studio API token as `Authorization: Bearer <token>` (make one at /tokens/).",
            "invalid_api_key",
        ),
    )


@api.exception_handler(NinjaValidationError)
def on_invalid(request, exc: NinjaValidationError):
    first = exc.errors[0] if exc.errors else {}
    names = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "form")]
    param = names[0] if names else None
    message = first.get("msg", "Invalid request.")
    return error(request, ApiError(400, f"{param}: {message}" if param else message, None, param))


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error(request, ApiError(404, "No such object.", "not_found"))


# Engine field → OpenAI parameter.
PARAMS = {"credential": "model", "scene": "model", "references": "image"}


def refusal(exc: DjangoValidationError, renamed: dict[str, str]) -> ApiError:
    """The engine's refusal as an API error: budgets are 402, unavailable team keys 403, any
    other invalid value 400 with its parameter."""
    if hasattr(exc, "error_dict"):
        items = [(field, e) for field, errors in exc.error_dict.items() for e in errors]
    else:
        items = [(None, e) for e in exc.error_list]
    for code, status in (("budget", 402), ("key_unavailable", 403)):
        for _field, e in items:
            if e.code == code:
                return ApiError(status, " ".join(e.messages), code)
    field, e = items[0]
    param = renamed.get(field, PARAMS.get(field, field))
    return ApiError(400, " ".join(e.messages), "invalid_value", param)


def failure(generation: Generation) -> ApiError:
    """A job that ended without images, as an API error carrying the studio's sentence."""
    message = generation.error_message or generation.get_status_display()
    if generation.error_code == "budget":
        return ApiError(402, message, "budget")
    if generation.error_code == "key_unavailable":
        return ApiError(403, message, "key_unavailable")
    return ApiError(502, message, generation.error_code or generation.status)


# --- Generations and edits ---------------------------------------------------------------------


class Body(Schema):
    @field_validator("*")
    @classmethod
    def no_nul(cls, value):
        # PostgreSQL refuses NUL in text; it is never meant in a prompt or a name.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class GenerationBody(Body):
    model: str = Field(min_length=3, max_length=300)
    prompt: str = Field(max_length=32000)
    n: int | None = Field(None, ge=1, le=10)
    size: str | None = Field(None, max_length=20)
    quality: str | None = Field(None, max_length=20)
    response_format: Literal["url", "b64_json"] | None = "url"
    background: str | None = Field(None, max_length=20)
    output_format: str | None = Field(None, max_length=10)
    user: str | None = Field(None, max_length=200)


class ImageData(Schema):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class StudioInfo(Schema):
    job_id: int
    status: str
    model: str
    job_url: str
    gallery_urls: list[str]
    cost: list[dict]
    error: str | None


class ImagesResponse(Schema):
    created: int
    data: list[ImageData]
    studio: StudioInfo


class ErrorBody(Schema):
    error: dict


ERRORS = dict.fromkeys((400, 401, 402, 403, 404, 429, 502), ErrorBody)


async def generate(request, body: dict, references: list | None = None, mask=None):
    owner = request.auth.owner
    target = await sync_to_async(services.resolve_target)(owner, body["model"])
    if target is None:
        raise ApiError(
            400,
            f"No model “{body['model']}” among your targets: see GET /v1/models.",
            "model_not_found",
            "model",
        )
    params, renamed = await sync_to_async(services.engine_params)(target, body)
    scene = "text-to-image"
    if references is not None:
        spec = engine.capabilities(target.vendor, target.credential).model(target.model)
        scene = "edit" if spec and "edit" in spec.scenes else "image-to-image"
        if mask is not None and not (spec and spec.masks and scene == "edit"):
            raise ApiError(
                400,
                f"“{body['model']}” takes no mask: send the edit without one, or choose a model "
                "that documents masks (docs/api.md).",
                "unsupported_parameter",
                "mask",
            )
    try:
        generation = await sync_to_async(engine.create_generation)(
            owner,
            vendor=target.vendor,
            credential=target.credential,
            model=target.model,
            prompt=body["prompt"],
            scene=scene,
            params=params,
            references=references or [],
            mask=mask,
        )
    except DjangoValidationError as exc:
        raise refusal(exc, renamed) from None
    ended = await wait_for_job(generation.pk, settings.STUDIO_API_WAIT_SECONDS)
    await generation.arefresh_from_db()
    if ended and generation.status != Status.SUCCEEDED:
        raise failure(generation)
    reply = await sync_to_async(services.job_reply)(
        request, generation, body.get("response_format") or "url"
    )
    # Past the wait: the job goes on; its reference is in `studio` (poll its job_url).
    return HttpStatus(200 if ended else 202, reply)


@api.post(
    "v1/images/generations",
    auth=generate_auth,
    response={200: ImagesResponse, 202: ImagesResponse, **ERRORS},
    summary="Create images (OpenAI's images.generate)",
)
async def generations(request, body: GenerationBody):
    return await generate(request, body.dict())


class EditForm(GenerationBody):
    """images.edit's fields, sent as multipart form fields beside the files: the same as a
    generation's, under a name of their own in the OpenAPI schema."""


MAX_UPLOAD_BYTES = 25_000_000


def save_uploads(owner, files, param: str = "image") -> list:
    references = []
    for upload in files:
        if upload.size > MAX_UPLOAD_BYTES:
            raise ApiError(400, "Each image must be under 25 MB.", "invalid_value", param)
        try:
            references.append(engine.save_reference(owner, upload.read()))
        except engine.ImageRejected as exc:
            raise ApiError(400, str(exc), "invalid_image", param) from None
    return references


@api.post(
    "v1/images/edits",
    auth=generate_auth,
    response={200: ImagesResponse, 202: ImagesResponse, **ERRORS},
    summary="Edit images (OpenAI's images.edit): multipart `image` or `image[]`, an optional "
    "PNG `mask`, and a prompt",
)
async def edits(
    request,
    form: Form[EditForm],
    image: list[UploadedFile] = File(None),  # noqa: B008 (ninja's way to declare a file)
    mask: UploadedFile | None = File(None),  # noqa: B008
):
    files = request.FILES.getlist("image") + request.FILES.getlist("image[]")
    if not files:
        raise ApiError(400, "Send at least one image file as `image`.", "missing_image", "image")
    references = await sync_to_async(save_uploads)(request.auth.owner, files)
    if mask is None:
        return await generate(request, form.dict(), references)
    (saved,) = await sync_to_async(save_uploads)(request.auth.owner, [mask], "mask")
    if saved.format != "PNG":
        # OpenAI's rule: the mask's alpha channel marks what to edit, so it is a PNG.
        raise ApiError(400, "The mask must be a PNG image.", "invalid_image", "mask")
    return await generate(request, form.dict(), references, saved)


# --- Models ---------------------------------------------------------------------------------------


class ModelItem(Schema):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str


class ModelList(Schema):
    object: str = "list"
    data: list[ModelItem]


@api.get("v1/models", auth=read_auth, response={200: ModelList, **ERRORS})
def models(request):
    """The token owner's usable targets: `<vendor>/<model>` for default keys, and
    `<key label>/<model>` for every key."""
    targets = services.targets_for(request.auth.owner)
    return {"data": [{"id": t.id, "owned_by": t.vendor} for t in targets]}


# --- Jobs and images ------------------------------------------------------------------------------


class ImageItem(Schema):
    id: int
    created: int
    url: str
    width: int
    height: int
    format: str
    job_id: int
    model: str
    prompt: str
    gallery_url: str


class JobReply(Schema):
    id: int
    status: str
    created: int
    model: str
    prompt: str
    progress: int | None
    images: list[ImageItem]
    studio: StudioInfo


def image_item(request, image: Image) -> dict:
    generation = image.generation
    return {
        "id": image.pk,
        "created": int(image.created_at.timestamp()),
        "url": services.signed_file_url(request, image),
        "width": image.width,
        "height": image.height,
        "format": image.format,
        "job_id": generation.pk,
        "model": f"{generation.vendor}/{generation.model}",
        "prompt": generation.prompt,
        "gallery_url": request.build_absolute_uri(f"/gallery/{image.pk}/"),
    }


@api.get(
    "api/v1/jobs/{id:job_id}", auth=read_auth, response={200: JobReply, **ERRORS}, url_name="job"
)
def job(request, job_id: int):
    """A job's status, images and cost; another user's job is a 404."""
    generation = Generation.objects.filter(pk=job_id, owner=request.auth.owner).first()
    if generation is None:
        raise Http404
    images = list(generation.images.visible().select_related("generation").order_by("index"))
    return {
        "id": generation.pk,
        "status": generation.status,
        "created": int(generation.created_at.timestamp()),
        "model": f"{generation.vendor}/{generation.model}",
        "prompt": generation.prompt,
        "progress": generation.progress,
        "images": [image_item(request, image) for image in images],
        "studio": services.studio_object(request, generation, images),
    }


class ImagePage(Schema):
    object: str = "list"
    data: list[ImageItem]
    has_more: bool
    next_after: str | None


@api.get("api/v1/images", auth=read_auth, response={200: ImagePage, **ERRORS})
def images(
    request,
    q: str = Query("", max_length=200),  # noqa: B008
    vendor: str = Query("", max_length=32),  # noqa: B008
    model: str = Query("", max_length=100),  # noqa: B008
    after: str = Query("", max_length=100),  # noqa: B008
):
    """The owner's gallery, newest first, 50 a page: pass `next_after` back as `after`."""
    found = Image.objects.visible().filter(owner=request.auth.owner)
    if vendor:
        found = found.filter(generation__vendor=vendor)
    if model:
        found = found.filter(generation__model=model)
    q = q.replace("\x00", "")  # PostgreSQL refuses NUL in text
    if q.strip():
        found = search.search_prompts(found, q, "generation__prompt")
    page, cursor = keyset_page(found.select_related("generation"), after or None, LIST_SIZE)
    return {
        "data": [image_item(request, image) for image in page],
        "has_more": cursor is not None,
        "next_after": cursor,
    }
