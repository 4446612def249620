"""Compare pages: the compare form (/compare/new/), a comparison (/compare/<pk>/) whose columns
poll themselves like job cards, the list (/compare/) and the scoreboard (/vendors/).

Every view fetches its comparison through one helper, by pk and owner: another user's
comparison, or a column of it, is a 404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Team
from studio.compare import scoreboard as board
from studio.compare import services
from studio.compare.forms import CompareForm
from studio.compare.models import Column, Comparison
from studio.engine.services import cancel_generation
from studio.web.jobs import poll_state
from studio.web.paging import keyset_page
from studio.web.params import parse_id

PAGE_SIZE = 25


def _get_column_for_user(comparison: Comparison, pk: int) -> Column:
    """A column of a comparison already fetched by owner, with its job's images and spend."""
    column = services.column_of(comparison, pk)
    if column is None:
        raise Http404
    return column


@login_required
def new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "studio/compare/new.html", {"form": CompareForm(request.user)})
    form = CompareForm(request.user, request.POST, request.FILES)
    if form.is_valid() and "preview" not in request.POST:
        data = form.cleaned_data
        try:
            comparison = services.start_comparison(
                request.user,
                prompt=data["prompt"],
                aspect_ratio=data["aspect_ratio"],
                blind=data["blind"],
                plans=form.plans,
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            return redirect(f"/compare/{comparison.pk}/")
    # An automatic check as the user fills the form shows each target's plan, not errors.
    ctx = {"form": form, "preview": request.htmx and "preview" in request.POST}
    template = "studio/compare/new.html"
    return render(request, template + "#compare-form" if request.htmx else template, ctx)


@require_GET
@login_required
def comparison(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = services.get_comparison_for_user(request, pk)
    columns = services.with_facts(services.columns_of(comparison))
    winners = [c for c in columns if c.is_winner]
    back = {"next": f"/compare/{pk}/"}
    ctx = {
        "comparison": comparison,
        "columns": columns,
        "winners": winners,
        "hidden": comparison.hidden,
        "show_cost": True,
        "winner_query": _images_query(winners, back),
        "all_query": _images_query(columns, back),
    }
    return render(request, "studio/compare/comparison.html", ctx)


def _images_query(columns: list[Column], extra: dict) -> str:
    """?image=…&image=… for sharing's "add to collection" page, or "" without images."""
    ids = [image.pk for c in columns for image in c.generation.visible_images]
    return urlencode([("image", i) for i in ids] + list(extra.items())) if ids else ""


def _column_response(
    request: HttpRequest, comparison: Comparison, column: Column, error: str = ""
) -> HttpResponse:
    services.with_facts([column])
    ctx = {
        "comparison": comparison,
        "column": column,
        "hidden": comparison.hidden,
        "show_cost": True,
        "column_error": error,
    }
    return render(request, "studio/compare/comparison.html#column", ctx)


@require_GET
@login_required
def column(request: HttpRequest, pk: int, column_pk: int) -> HttpResponse:
    comparison = services.get_comparison_for_user(request, pk)
    column = _get_column_for_user(comparison, column_pk)
    if not request.htmx:
        return redirect(f"/compare/{pk}/#column-{column.pk}")
    job = column.generation
    if job.in_flight and request.GET.get("seen") == poll_state(job):
        # Nothing new: htmx swaps nothing on 204, as with the job cards.
        return HttpResponse(status=204)
    return _column_response(request, comparison, column)


@require_POST
@login_required
def cancel_column(request: HttpRequest, pk: int, column_pk: int) -> HttpResponse:
    comparison = services.get_comparison_for_user(request, pk)
    column = _get_column_for_user(comparison, column_pk)
    cancel_generation(column.generation)
    column = _get_column_for_user(comparison, column_pk)
    if request.htmx:
        return _column_response(request, comparison, column)
    return redirect(f"/compare/{pk}/#column-{column.pk}")


@require_POST
@login_required
def rerun_column(request: HttpRequest, pk: int, column_pk: int) -> HttpResponse:
    comparison = services.get_comparison_for_user(request, pk)
    column = _get_column_for_user(comparison, column_pk)
    error = ""
    if comparison.decided_at:
        error = _("Winners are marked: re-run the whole comparison instead.")
    else:
        try:
            services.rerun_column(column)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if request.htmx:
        return _column_response(
            request, comparison, _get_column_for_user(comparison, column_pk), error
        )
    if error:
        messages.error(request, error)
    return redirect(f"/compare/{pk}/#column-{column.pk}")


@require_POST
@login_required
def rerun(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = services.get_comparison_for_user(request, pk)
    try:
        again = services.rerun_comparison(comparison)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"/compare/{pk}/")
    messages.success(request, _("The comparison is running again."))
    return redirect(f"/compare/{again.pk}/")


@require_POST
@login_required
def verdict(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = services.get_comparison_for_user(request, pk)
    # An id no column can have is left out rather than sent to the database.
    ids = {parse_id(v) for v in request.POST.getlist("winner")} - {None}
    winners = list(comparison.columns.filter(pk__in=ids).select_related("generation"))
    note = request.POST.get("note", "").strip()[:2000]
    try:
        services.record_verdict(comparison, winners, note)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Verdict saved."))
    return redirect(f"/compare/{pk}/#verdict")


@require_GET
@login_required
def comparisons(request: HttpRequest) -> HttpResponse:
    # PostgreSQL refuses NUL in text: a search for it is a search for the rest.
    query = request.GET.get("q", "").replace("\x00", "")[:200]
    rows, next_cursor = keyset_page(
        services.comparisons_of(request.user, query), request.GET.get("after"), PAGE_SIZE
    )
    services.with_summaries(rows)
    ctx = {"comparisons": rows, "q": query, "next_cursor": next_cursor}
    return render(request, "studio/compare/list.html", ctx)


@require_GET
@login_required
def scoreboard(request: HttpRequest) -> HttpResponse:
    """The user's own scoreboard, or (?team=<pk>, a team of theirs) the team's."""
    teams = list(Team.objects.filter(memberships__user=request.user).order_by("name", "pk"))
    team = None
    if "team" in request.GET:
        team = next((t for t in teams if str(t.pk) == request.GET["team"]), None)
        if team is None:
            raise Http404
    figures = board.team_scoreboard(team) if team else board.scoreboard(request.user)
    ctx = {**figures, "teams": teams, "team": team}
    return render(request, "studio/compare/scoreboard.html", ctx)
