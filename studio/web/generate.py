"""The generate page (`/`): the form, shaped by the chosen key, and the recent job cards."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from studio.engine.services import create_generation
from studio.models import Generation, Image
from studio.web.forms import DEMO, GenerateForm
from studio.web.owned import get_generation_for_user
from studio.web.params import parse_id

RECENT_JOBS = 12
MULTI_VALUED = ("reference",)


def recent_jobs(owner) -> list[Generation]:
    images = Image.objects.visible().order_by("index")
    jobs = Generation.objects.filter(owner=owner, dismissed_at__isnull=True)
    return list(
        jobs.prefetch_related(Prefetch("images", queryset=images, to_attr="visible_images"))[
            :RECENT_JOBS
        ]
    )


def values_from(query: QueryDict) -> dict[str, Any]:
    values: dict[str, Any] = {k: query.get(k) for k in query if k not in MULTI_VALUED}
    ids = [parse_id(v) for v in query.getlist("reference")]
    values["reference"] = [pk for pk in ids if pk is not None]
    return values


def values_of(generation: Generation) -> dict[str, Any]:
    """The settings of an earlier job, for "edit and resubmit" and "use these settings again"."""
    return {
        **{k: str(v) for k, v in generation.params.items()},
        "key": str(generation.credential_id) if generation.credential_id else DEMO,
        "model": generation.model,
        "scene": generation.scene,
        "prompt": generation.prompt,
        "reference": [r.pk for r in generation.references.all()],
    }


def initial_values(request: HttpRequest) -> dict[str, Any]:
    values: dict[str, Any] = {}
    source = parse_id(request.GET.get("from"))
    if source is not None:
        values = values_of(get_generation_for_user(request, source))
    given = values_from(request.GET)
    given.pop("from", None)
    if not given["reference"]:
        given.pop("reference")
    return {**values, **given}


def in_flight_elsewhere(owner, shown: list[Generation]) -> int:
    """Jobs still in progress that the recent list does not show: older ones would otherwise
    vanish from view, so the page says how many there are and links to them."""
    jobs = Generation.objects.filter(owner=owner, status__in=Generation.IN_FLIGHT)
    return jobs.exclude(pk__in=[job.pk for job in shown]).count()


def page(request: HttpRequest, form: GenerateForm) -> HttpResponse:
    jobs = recent_jobs(request.user)
    ctx = {"form": form, "jobs": jobs, "more_in_flight": in_flight_elsewhere(request.user, jobs)}
    return render(request, "studio/generate.html", ctx)


@login_required
def generate(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return page(request, GenerateForm(request.user, initial=initial_values(request)))
    if "refresh" in request.POST:
        # Without JavaScript, "Update the options" posts the form to reshape it.
        return page(request, GenerateForm(request.user, initial=values_from(request.POST)))
    form = GenerateForm(request.user, request.POST, request.FILES)
    if form.is_valid():
        try:
            job = create_generation(request.user, **form.generation_kwargs())
        except ValidationError as exc:
            form.add_engine_errors(exc)
        else:
            if not request.htmx:
                messages.success(request, _("Your job is queued."))
                # The form comes back with this job's settings, as it does with htmx.
                return redirect(f"/?from={job.pk}#job-{job.pk}")
            fresh = GenerateForm(request.user, initial=form.carried_values())
            return render(request, "studio/generate.html#submitted", {"form": fresh, "job": job})
    if request.htmx:
        return render(request, "studio/generate.html#generate-form", {"form": form})
    return page(request, form)


@require_GET
@login_required
def generate_form(request: HttpRequest) -> HttpResponse:
    """The form for the current choices: htmx asks for it when the key, model or kind changes."""
    form = GenerateForm(request.user, initial=values_from(request.GET))
    if request.htmx:
        return render(request, "studio/generate.html#generate-form", {"form": form})
    return page(request, form)
