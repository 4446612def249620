"""Job cards: one job's state, polled by the card itself while the job is in flight."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from studio.engine.services import cancel_generation, submit_again
from studio.models import Generation, Image
from studio.templatetags.studio import vendor_label
from studio.web.gallery import start_of
from studio.web.owned import get_generation_for_user
from studio.web.paging import keyset_page
from studio.web.params import DayField

PAGE_SIZE = 25
IN_FLIGHT = "in_flight"


def poll_state(job: Generation) -> str:
    """What the card shows of a job in flight; the card sends it back with each poll."""
    return f"{job.status}-{job.progress}"


def visible_images(job: Generation) -> list[Image]:
    return list(job.images.visible().order_by("index"))


def back_to(request: HttpRequest, default: str) -> str:
    """Where a card's action returns without JavaScript: the jobs page it was used on (with
    its filters), or `default` (the generate page)."""
    url = request.POST.get("next", "")
    if not url and request.htmx:
        url = request.htmx.current_url_abs_path or ""
    if url.startswith("/jobs/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return url
    return default


def card(request: HttpRequest, job: Generation, error: str = "") -> HttpResponse:
    job.visible_images = visible_images(job)
    ctx = {"job": job, "job_error": error, "next": back_to(request, "")}
    return render(request, "studio/job.html#job-card", ctx)


# --- The jobs page (/jobs/): every job, with filters and keyset paging -----------------------


class JobFilters(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    vendor = forms.ChoiceField(label=gettext_lazy("Vendor"), required=False)
    start = DayField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = DayField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data, owner) -> None:
        super().__init__(data)
        vendors = Generation.objects.filter(owner=owner).order_by().values_list("vendor")
        anything = [("", _("Any"))]
        self.fields["vendor"].choices = anything + [
            (v, vendor_label(v)) for v in sorted({v for (v,) in vendors.distinct()})
        ]
        self.fields["status"].choices = (
            anything + [(IN_FLIGHT, _("In progress"))] + list(Generation.Status.choices)
        )

    def apply(self, jobs: QuerySet) -> QuerySet:
        if not self.is_valid():
            return jobs.none()
        data = self.cleaned_data
        if data["status"] == IN_FLIGHT:
            jobs = jobs.filter(status__in=Generation.IN_FLIGHT)
        elif data["status"]:
            jobs = jobs.filter(status=data["status"])
        if data["vendor"]:
            jobs = jobs.filter(vendor=data["vendor"])
        if data["start"]:
            jobs = jobs.filter(created_at__gte=start_of(data["start"]))
        if data["end"]:
            jobs = jobs.filter(created_at__lt=start_of(data["end"] + timedelta(days=1)))
        return jobs

    def query(self, **extra) -> str:
        values = {k: v for k, v in self.data.items() if v and k in self.fields}
        return urlencode({**values, **extra})


@require_GET
@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    filters = JobFilters(request.GET, request.user)
    images = Image.objects.visible().order_by("index")
    jobs = filters.apply(Generation.objects.filter(owner=request.user)).prefetch_related(
        Prefetch("images", queryset=images, to_attr="visible_images")
    )
    page, next_cursor = keyset_page(jobs, request.GET.get("after"), PAGE_SIZE)
    ctx = {
        "filters": filters,
        "jobs": page,
        "next_query": filters.query(after=next_cursor) if next_cursor else "",
        "is_first_page": not request.GET.get("after"),
        "next": request.get_full_path(),
    }
    return render(request, "studio/jobs.html", ctx)


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
    return redirect(back_to(request, f"/#job-{job.pk}"))


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
        return redirect(back_to(request, f"/#job-{job.pk}"))
    Generation.objects.filter(pk=job.pk).update(dismissed_at=timezone.now())
    if request.htmx:
        return card(request, new)
    messages.success(request, _("Your job is queued again."))
    return redirect(back_to(request, f"/#job-{new.pk}"))


@require_POST
@login_required
def dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_generation_for_user(request, pk)
    if job.in_flight:
        error = _("Cancel the job before you dismiss it.")
        if request.htmx:
            return card(request, job, error)
        messages.error(request, error)
        return redirect(back_to(request, f"/#job-{job.pk}"))
    Generation.objects.filter(pk=job.pk).update(dismissed_at=timezone.now())
    if back_to(request, ""):
        # On the jobs page a dismissed job stays listed (it is history), marked as such.
        job.dismissed_at = timezone.now()
        return card(request, job) if request.htmx else redirect(back_to(request, "/"))
    if request.htmx:
        return HttpResponse("")  # the card swaps itself for nothing
    return redirect("/")
