"""Budgets: reservation at job creation, refusal sentences, settling, warnings, team keys."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import CredentialEvent
from studio.engine import jobs
from studio.engine.services import create_generation
from studio.models import Generation
from studio.money import services
from studio.money.models import Budget, Price, Reservation

Status = Generation.Status


def job(user, key, prompt="a lighthouse", **params):
    return create_generation(
        user,
        vendor="girlgenerator",
        credential=key,
        model="default",
        prompt=prompt,
        params=params,
    )


def budget(owner, scope, limit, key=None, measure="images", **kw):
    return services.set_budget(
        Budget(scope=scope, credential=key, measure=measure, limit=Decimal(limit), **kw), owner
    )


def test_a_budget_refuses_the_job_that_does_not_fit_and_says_why(alice, key):
    budget(alice, "own", 2)
    job(alice, key)
    job(alice, key)
    with pytest.raises(ValidationError) as refused:
        job(alice, key)
    assert refused.value.code == "budget"
    text = refused.value.messages[0]
    assert "Your own limit on “all my keys” (2 images a calendar month)" in text
    assert "0 images left until it resets on" in text and "needs 1 image" in text
    assert Generation.objects.count() == 2  # the refused job was never stored or queued


def test_a_reservation_settles_to_the_real_spend_when_the_job_ends(alice, key):
    limit = budget(alice, "own", 2, key=key)
    first = job(alice, key)
    job(alice, key)
    # The first ends without an image (nothing charged): its reservation is settled to 0.
    Generation.objects.filter(pk=first.pk).update(status=Status.FAILED)
    job(alice, key)
    assert sorted(Reservation.objects.values_list("spent", flat=True), key=str) == [
        Decimal(0),
        None,
        None,
    ]
    state = services.state_of(limit)
    assert (state.used, state.left, state.warn, state.percent) == (2, 0, True, 100)


def test_money_budgets_need_a_price_and_count_the_estimate(alice, key):
    budget(alice, "own", "0.25", measure="money", currency="CNY")
    with pytest.raises(ValidationError) as refused:
        job(alice, key)
    assert "no price" in refused.value.messages[0]
    Price.objects.create(
        vendor="girlgenerator",
        per="images",
        amount=Decimal("0.10"),
        currency="CNY",
        valid_from=date(2026, 1, 1),
    )
    job(alice, key)
    job(alice, key)
    with pytest.raises(ValidationError) as refused:
        job(alice, key)
    assert "¥0.05 left" in refused.value.messages[0]
    assert "needs ¥0.10" in refused.value.messages[0]


def test_the_warning_starts_at_80_percent(alice, key):
    limit = budget(alice, "own", 5, key=key)
    for _ in range(3):
        job(alice, key)
    assert not services.state_of(limit).warn
    job(alice, key)
    assert services.state_of(limit).warn


def test_team_keys_count_each_member_and_the_key_in_total(alice, bob, carol, key, team, shared):
    from accounts.models import Membership

    Membership.objects.create(team=team, user=carol)
    budget(alice, "member", 1, key=key)
    budget(alice, "key", 3, key=key)
    job(bob, key)
    with pytest.raises(ValidationError) as refused:
        job(bob, key)
    assert "each member on the team key “studio key”" in refused.value.messages[0]
    job(carol, key)
    job(alice, key)  # the owner is not a member: only the key's total counts her
    with pytest.raises(ValidationError) as refused:
        job(alice, key)
    assert "total limit of the team key" in refused.value.messages[0]
    assert Generation.objects.filter(credential=key).values("owner").distinct().count() == 3
    kinds = list(CredentialEvent.objects.filter(credential=key).values_list("kind", flat=True))
    assert kinds.count("budget") == 2 and "shared" in kinds


def test_a_key_no_longer_shared_refuses_unsent_jobs(alice, bob, key, team, shared):
    waiting = job(bob, key)
    claimed = job(bob, key)
    own = job(alice, key)
    # One job already claimed by a worker, not yet sent: refused at the last check.
    Generation.objects.filter(pk=claimed.pk).update(status=Status.SUBMITTING)
    assert services.stop_sharing(shared, alice) == 1
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error_code) == (Status.FAILED, "key_unavailable")
    assert "stopped sharing it" in waiting.error_message
    Generation.objects.filter(pk=claimed.pk).update(status=Status.QUEUED)
    jobs.submit(claimed.pk)  # would POST to the vendor if the check were missing
    claimed.refresh_from_db()
    assert (claimed.status, claimed.error_code) == (Status.FAILED, "key_unavailable")
    own.refresh_from_db()
    assert own.status == Status.QUEUED  # the owner's own job is untouched
    with pytest.raises(ValidationError) as refused:
        job(bob, key)
    assert refused.value.code == "key_unavailable"
    assert refused.value.messages == ["This team key is no longer shared with you."]
    assert "unshared" in CredentialEvent.objects.filter(credential=key).values_list(
        "kind", flat=True
    )


def test_another_users_key_is_refused_as_before(carol, key):
    with pytest.raises(ValidationError) as refused:
        job(carol, key)
    assert refused.value.message_dict == {"credential": ["Choose one of your keys."]}


def test_monthly_and_custom_periods(alice, key):
    from datetime import datetime

    from django.utils import timezone

    monthly = Budget(scope="own", measure="images", limit=1)
    now = timezone.make_aware(datetime(2026, 12, 31, 23, 30))
    start, end = services.window(monthly, now)
    assert (start.date(), end.date()) == (date(2026, 12, 1), date(2027, 1, 1))
    fortnight = Budget(
        scope="own",
        measure="images",
        limit=1,
        period="days",
        period_days=14,
        starts_on=date(2026, 11, 1),
    )
    start, end = services.window(fortnight, now)
    assert (start.date(), end.date()) == (date(2026, 12, 27), date(2027, 1, 10))


def test_a_tokens_limit_set_before_the_rule_still_refuses_rather_than_guesses(alice):
    """The form refuses a limit in tokens; one already stored refuses each job, with why."""
    from accounts.vault import add_credential

    tokens = add_credential(alice, "aioagi", "tokens key", "sk-aioagi-5566778899aabb")
    budget(alice, "own", 100000, key=tokens, measure="tokens")
    with pytest.raises(ValidationError) as refused:
        create_generation(
            alice, vendor="aioagi", credential=tokens, model="gpt-image-2", prompt="p", params={}
        )
    assert (
        "is in vendor tokens and this vendor does not document how many"
        in (refused.value.messages[0])
    )
    assert not Generation.objects.exists()


def test_eager_settling_counts_the_images_as_soon_as_the_ledger_has_them(alice, key):
    """money.settle: what the ledger calls once a finished job's rows are written."""
    from studio.engine import ledger
    from tests.web.conftest import make_image

    limit = budget(alice, "own", 3, key=key)
    first = job(alice, key)
    assert Reservation.objects.get(generation=first).spent is None
    second = job(alice, key)
    make_image(alice, job=first)  # the engine stored one image, then writes the ledger
    Generation.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED)
    ledger.record_images(first, 1)
    # Settled at once, before any budget is read; the job still in flight keeps its estimate.
    assert dict(Reservation.objects.values_list("generation_id", "spent")) == {
        first.pk: Decimal(1),
        second.pk: None,
    }
    assert services.settle(first) == 0  # once only
    assert services.state_of(limit).used == 2
