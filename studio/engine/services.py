"""What the web app asks of the engine: start a job, cancel it, send it again."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Credential
from studio.engine import enqueue, jobs, state
from studio.engine.images import CONTENT_TYPES
from studio.engine.images import ImageRejected as ImageRejected
from studio.engine.references import save_reference as save_reference
from studio.models import Generation, ReferenceImage
from studio.money import services as money
from studio.vendors import get_adapter
from studio.vendors.base import Capabilities, GenerationRequest, Reference

Status = Generation.Status


def deadline_for(vendor: str):
    minutes = settings.STUDIO_VENDOR_DEADLINES.get(vendor, settings.STUDIO_JOB_DEADLINE_MINUTES)
    return timezone.now() + timedelta(minutes=minutes)


def capabilities(vendor: str, credential=None) -> Capabilities:
    """What `vendor` offers (models, sizes, choices) with the operator's extra models, and the
    models `credential`'s vendor listed for it where discovery is on."""
    return get_adapter(vendor, credential).capabilities


def validate_generation(
    owner,
    *,
    vendor: str,
    credential=None,
    model: str,
    prompt: str,
    scene: str = "text-to-image",
    params: dict | None = None,
    references: list[ReferenceImage] = (),
    mask: ReferenceImage | None = None,
) -> None:
    """The checks `create_generation` makes before anything is stored or sent, on their own
    (a comparison checks every target first). Raises ValidationError (field → message)."""
    params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    # One's own keys, or a team key shared with one (studio.money).
    money.validate_key(owner, credential, vendor)
    if credential is not None and (credential.vendor != vendor or credential.revoked_at):
        raise ValidationError({"credential": "This key cannot be used for this vendor."})
    adapter = get_adapter(vendor, credential)
    if (
        references
        and adapter.capabilities.reference_mode == "url"
        and not settings.STUDIO_PUBLIC_URL
    ):
        raise ValidationError(
            {
                "references": "This vendor downloads reference images from the studio's public "
                "address, and the operator has not set one (STUDIO_PUBLIC_URL)."
            }
        )
    # Stand-ins with both forms: validation only needs to know how many there are and their
    # types; the real files and signed URLs are made at submit time.
    stand_ins = [
        Reference(url="https://studio.invalid/r/", data=b"-", content_type=CONTENT_TYPES[r.format])
        for r in [*references, *([mask] if mask else [])]
    ]
    if mask is not None:
        stand_ins[-1] = replace(stand_ins[-1], role="mask")
    request = GenerationRequest(
        scene=scene, model=model, prompt=prompt, params=params, references=stand_ins
    )
    errors = adapter.validate(request)
    # OpenAI's rule: the mask covers the first image pixel for pixel.
    if mask is not None and references and "mask" not in errors:
        first = references[0]
        if (mask.width, mask.height) != (first.width, first.height):
            errors["mask"] = (
                f"The mask is {mask.width}×{mask.height} pixels; it must be the size of the "
                f"first image, {first.width}×{first.height}."
            )
    if errors:
        raise ValidationError(errors)


def create_generation(
    owner,
    *,
    vendor: str,
    credential=None,
    model: str,
    prompt: str,
    scene: str = "text-to-image",
    params: dict | None = None,
    references: list[ReferenceImage] = (),
    mask: ReferenceImage | None = None,
    retry_of: Generation | None = None,
) -> Generation:
    """Validates against the vendor's documented limits, then queues the job.

    Raises ValidationError (field → message) before anything is stored or sent."""
    params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    validate_generation(
        owner,
        vendor=vendor,
        credential=credential,
        model=model,
        prompt=prompt,
        scene=scene,
        params=params,
        references=references,
        mask=mask,
    )
    with transaction.atomic():
        # Fetched again and locked: the key may have been deleted or revoked (in another tab)
        # since the form offered it, and a job must neither point at a deleted key (a
        # foreign-key error at commit, a 500) nor start on a revoked one.
        usable = Credential.objects.usable().select_for_update()
        if credential is not None and not usable.filter(pk=credential.pk).exists():
            raise ValidationError({"credential": "This key was just deleted or revoked."})
        generation = Generation.objects.create(
            owner=owner,
            credential=credential,
            vendor=vendor,
            model=model,
            scene=scene,
            prompt=prompt,
            params=params,
            deadline=deadline_for(vendor),
            lease_until=timezone.now() + jobs.QUEUE_GRACE,
            retry_of=retry_of,
            mask=mask,
        )
        if references:
            generation.references.set(references)
        # Holds the job's estimate against its budgets, or refuses it (code "budget"): the
        # whole transaction, row and task, is then rolled back.
        money.reserve(generation)
        # Same transaction as the row (the ORM broker shares the database): both or neither.
        enqueue.submit(generation.pk)
    return generation


def cancel_generation(generation: Generation) -> bool:
    """A queued job stops at once; a running one stops being polled (the vendor may charge)."""
    now = timezone.now()
    if state.update(
        generation,
        Status.QUEUED,
        status=Status.CANCELED,
        finished_at=now,
        next_poll_at=None,
        lease_until=None,
    ):
        return True
    return state.update(
        generation,
        [Status.SUBMITTING, Status.RUNNING],
        status=Status.CANCELED,
        finished_at=now,
        next_poll_at=None,
        lease_until=None,
        may_have_charged=True,
        error_message="Canceled after it was sent: the vendor may still charge for it.",
    )


def submit_again(generation: Generation) -> Generation:
    """The user's explicit decision to send an ended job again, as a new job."""
    if generation.in_flight:
        raise ValidationError("This job is still in progress.")
    return create_generation(
        generation.owner,
        vendor=generation.vendor,
        credential=generation.credential,
        model=generation.model,
        prompt=generation.prompt,
        scene=generation.scene,
        params=generation.params,
        references=list(generation.references.all()),
        mask=generation.mask,
        retry_of=generation,
    )
