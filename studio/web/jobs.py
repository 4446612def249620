"""Job cards: one job's state, polled by the card itself while the job is in flight."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from studio.engine.services import cancel_generation, submit_again
from studio.models import Generation, Image
from studio.web.owned import get_generation_for_user


def poll_state(job: Generation) -> str:
    """What the card shows of a job in flight; the card sends it back with each poll."""
    return f"{job.status}-{job.progress}"


def visible_images(job: Generation) -> list[Image]:
    return list(job.images.visible().order_by("index"))


def card(request: HttpRequest, job: Generation, error: str = "") -> HttpResponse:
    job.visible_images = visible_images(job)
    return render(request, "studio/job.html#job-card", {"job": job, "job_error": error})


@require_GET
@login_required
def job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_generation_for_user(request, pk)
    if request.htmx:
        if job.in_flight and request.GET.get("seen") == poll_state(job):
            # Nothing new: htmx swaps nothing on 204, so focus and screen readers stay put.
            return HttpResponse(status=204)
        return card(request, job)
    job.visible_images = visible_images(job)
    return render(request, "studio/job.html", {"job": job})


@require_POST
@login_required
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_generation_for_user(request, pk)
    cancel_generation(job)
    job.refresh_from_db()
    if request.htmx:
        return card(request, job)
    return redirect(f"/#job-{job.pk}")


@require_POST
@login_required
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Retry a failed job, or (the user's explicit choice) submit an unknown outcome again."""
    job = get_generation_for_user(request, pk)
    try:
        new = submit_again(job)
    except ValidationError as exc:
        error = " ".join(exc.messages)
        if request.htmx:
            return card(request, job, error)
        messages.error(request, error)
        return redirect(f"/#job-{job.pk}")
    Generation.objects.filter(pk=job.pk).update(dismissed_at=timezone.now())
    if request.htmx:
        return card(request, new)
    messages.success(request, _("Your job is queued again."))
    return redirect(f"/#job-{new.pk}")


@require_POST
@login_required
def dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_generation_for_user(request, pk)
    if job.in_flight:
        error = _("Cancel the job before you dismiss it.")
        if request.htmx:
            return card(request, job, error)
        messages.error(request, error)
        return redirect(f"/#job-{job.pk}")
    Generation.objects.filter(pk=job.pk).update(dismissed_at=timezone.now())
    if request.htmx:
        return HttpResponse("")  # the card swaps itself for nothing
    return redirect("/")
