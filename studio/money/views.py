"""The money page (/money/): budgets and how much of each is left, keys shared with teams,
one's own prices, the price book, and the budgets' audit trail.

Every view fetches its object through one helper by pk and owner: another user's budget,
share or price is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Membership
from accounts.verification import has_verified_email, needs_verified_email
from studio.money import services
from studio.money.forms import BudgetForm, PriceForm, ShareForm
from studio.money.models import Budget, BudgetEvent, KeyShare, Price


def _get_budget_for_user(request: HttpRequest, pk: int) -> Budget:
    return get_object_or_404(Budget, pk=pk, owner=request.user)


def _get_share_for_user(request: HttpRequest, pk: int) -> KeyShare:
    return get_object_or_404(
        KeyShare.objects.select_related("credential", "team"),
        pk=pk,
        credential__owner=request.user,
        stopped_at__isnull=True,
    )


def _get_price_for_user(request: HttpRequest, pk: int) -> Price:
    return get_object_or_404(Price, pk=pk, credential__owner=request.user)


def budget_states(user) -> list:
    """The user's own budgets, then those on their team keys (one line per member), then
    those on team keys shared with them (their own share)."""
    states = []
    for budget in Budget.objects.filter(owner=user).select_related("credential"):
        if budget.scope == Budget.Scope.MEMBER:
            teams = KeyShare.objects.filter(credential=budget.credential, stopped_at__isnull=True)
            members = (
                Membership.objects.filter(team__in=teams.values("team"))
                .exclude(user=user)
                .select_related("user")
            )
            seen = {m.user for m in members}
            states += [services.state_of(budget, m) for m in sorted(seen, key=str)]
            if not seen:
                states.append(services.state_of(budget))
        else:
            states.append(services.state_of(budget))
    for credential in services.usable_credentials(user):
        if credential.owner_id == user.pk:
            continue
        for budget in Budget.objects.filter(credential=credential).exclude(scope="own"):
            member = user if budget.scope == Budget.Scope.MEMBER else None
            states.append(services.state_of(budget, member))
    return states


def page(request: HttpRequest, **forms) -> HttpResponse:
    user = request.user
    ctx = {
        "states": budget_states(user),
        "budget_form": forms.get("budget_form") or BudgetForm(user),
        "share_form": forms.get("share_form") or ShareForm(user),
        "price_form": forms.get("price_form") or PriceForm(user),
        "shares": KeyShare.objects.filter(
            credential__owner=user, stopped_at__isnull=True
        ).select_related("credential", "team"),
        "shared_with_me": [c for c in services.usable_credentials(user) if c.owner_id != user.pk],
        "own_prices": Price.objects.filter(credential__owner=user).select_related("credential"),
        "price_book": Price.objects.filter(credential__isnull=True),
        "events": BudgetEvent.objects.filter(owner=user)[:20],
    }
    return render(request, "money/money.html", ctx)


@login_required
def money(request: HttpRequest) -> HttpResponse:
    return page(request)


@require_POST
@login_required
def add_budget(request: HttpRequest) -> HttpResponse:
    form = BudgetForm(request.user, request.POST)
    if not form.is_valid():
        return page(request, budget_form=form)
    services.set_budget(form.save(commit=False), request.user)
    messages.success(request, _("Budget saved."))
    return redirect("money")


@require_POST
@login_required
def delete_budget(request: HttpRequest, pk: int) -> HttpResponse:
    services.remove_budget(_get_budget_for_user(request, pk), request.user)
    messages.success(request, _("Budget removed."))
    return redirect("money")


@require_POST
@login_required
def share(request: HttpRequest) -> HttpResponse:
    form = ShareForm(request.user, request.POST)
    if not has_verified_email(request.user):
        form.add_error(None, needs_verified_email(_("Sharing a key with a team")))
    if not form.is_valid():
        return page(request, share_form=form)
    services.share_key(form.cleaned_data["credential"], form.cleaned_data["team"], request.user)
    messages.success(request, _("Key shared. Members can now generate with it, never see it."))
    return redirect("money")


@require_POST
@login_required
def stop_sharing(request: HttpRequest, pk: int) -> HttpResponse:
    refused = services.stop_sharing(_get_share_for_user(request, pk), request.user)
    messages.success(
        request,
        _("Sharing stopped. Jobs not yet sent on this key were refused: %(n)s.") % {"n": refused},
    )
    return redirect("money")


@require_POST
@login_required
def add_price(request: HttpRequest) -> HttpResponse:
    form = PriceForm(request.user, request.POST)
    if not form.is_valid():
        return page(request, price_form=form)
    form.save()
    messages.success(request, _("Price saved."))
    return redirect("money")


@require_POST
@login_required
def delete_price(request: HttpRequest, pk: int) -> HttpResponse:
    _get_price_for_user(request, pk).delete()
    messages.success(request, _("Price removed."))
    return redirect("money")
