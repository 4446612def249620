"""The scoreboard (/vendors/): figures from jobs with known times and outcomes, exactly."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from openskill.models import PlackettLuce

from studio.compare import scoreboard
from studio.compare.models import Column, Comparison
from studio.models import CreditEntry, Generation, Image
from tests.web.test_queries import fill

Status = Generation.Status


def job(owner, vendor, model, status=Status.SUCCEEDED, seconds=None, code="", images=0):
    now = timezone.now()
    generation = Generation.objects.create(
        owner=owner,
        vendor=vendor,
        model=model,
        prompt="p",
        status=status,
        error_code=code,
        deadline=now,
        submitted_at=now - timedelta(seconds=seconds) if seconds is not None else None,
        finished_at=now if status in Generation.ENDED else None,
    )
    Image.objects.bulk_create(
        Image(
            generation=generation,
            owner=owner,
            index=i,
            width=1,
            height=1,
            format="PNG",
            bytes=1,
            sha256="0",
        )
        for i in range(images)
    )
    return generation


def spend(generation, amount, unit="credits"):
    CreditEntry.objects.create(
        owner=generation.owner,
        generation=generation,
        vendor=generation.vendor,
        kind="tokens" if unit == "tokens" else "credits",
        amount=Decimal(amount),
        unit=unit,
    )


def verdict(owner, blind, *columns, minutes_ago=0):
    """columns: (job, won)."""
    comparison = Comparison.objects.create(
        owner=owner,
        prompt="p",
        aspect_ratio="1:1",
        blind=blind,
        decided_at=timezone.now() - timedelta(minutes=minutes_ago),
    )
    for position, (generation, won) in enumerate(columns):
        Column.objects.create(
            comparison=comparison,
            position=position,
            vendor=generation.vendor,
            model=generation.model,
            generation=generation,
            is_winner=won,
        )
    return comparison


@pytest.fixture
def history(alice):
    girl = [job(alice, "girlgenerator", "default", seconds=s, images=1) for s in (10, 20, 40)]
    for generation in girl:
        spend(generation, 2)
    failed = job(alice, "girlgenerator", "default", Status.FAILED, 5, code="content_policy")
    spend(failed, 1)  # charged for a refusal
    job(alice, "girlgenerator", "default", Status.EXPIRED, 900)
    job(alice, "girlgenerator", "default", Status.CANCELED)  # the user's choice: not counted
    job(alice, "girlgenerator", "default", Status.RUNNING, 3)  # not ended: not counted
    demo = [job(alice, "demo", "demo", seconds=s, images=2) for s in (1, 2, 3, 4)]
    for generation in demo:
        spend(generation, 0)
    aioagi = job(alice, "aioagi", "gpt-image-2", seconds=30, images=1)
    spend(aioagi, 4000, "tokens")
    lost = job(alice, "aioagi", "gpt-image-2", Status.UNKNOWN_OUTCOME, 180, "unknown_outcome")
    # Verdicts, oldest first: open, girl beats demo (and a failed aioagi column, which is no
    # preference); then blind, demo beats girl and aioagi.
    verdict(alice, False, (girl[0], True), (demo[0], False), (lost, False), minutes_ago=10)
    verdict(alice, True, (demo[1], True), (girl[1], False), (aioagi, False), minutes_ago=5)
    # Undecided: counts for nothing.
    Comparison.objects.create(owner=alice, prompt="p", aspect_ratio="1:1")
    return alice


def test_the_figures_are_exactly_right(history):
    rows = {(r.vendor, r.model): r for r in scoreboard.scoreboard(history)["rows"]}
    girl, demo, aioagi = (
        rows["girlgenerator", "default"],
        rows["demo", "demo"],
        rows["aioagi", "gpt-image-2"],
    )
    assert girl.jobs == 7 and girl.succeeded == 3
    assert girl.success_rate == 3 / 5
    assert dict(girl.failures) == {"content_policy": 1, "expired": 1}
    assert girl.median_time == pytest.approx(20) and girl.p90_time == pytest.approx(40)
    assert girl.cost_per_image == [(Decimal(7) / 3, "credits")]
    assert demo.median_time == pytest.approx(2.5) and demo.p90_time == pytest.approx(4)
    assert demo.success_rate == 1 and demo.cost_per_image == [(Decimal(0), "credits")]
    assert aioagi.success_rate == 1 / 2 and dict(aioagi.failures) == {"unknown_outcome": 1}
    assert aioagi.cost_per_image == [(Decimal(4000), "tokens")]

    assert (girl.wins_open, girl.verdicts_open, girl.wins_blind, girl.verdicts_blind) == (
        1,
        1,
        0,
        1,
    )
    assert (demo.wins_open, demo.verdicts_open, demo.wins_blind, demo.verdicts_blind) == (
        0,
        1,
        1,
        1,
    )
    assert (aioagi.wins_blind, aioagi.verdicts_blind, aioagi.verdicts_open) == (0, 1, 0)

    # The ratings are openskill's, from the same verdicts in the same order.
    model = PlackettLuce()
    g, d = model.rating(), model.rating()
    [[g], [d]] = model.rate([[g], [d]], ranks=[1, 2])
    a = model.rating()
    [[a], [d], [g]] = model.rate([[a], [d], [g]], ranks=[2, 1, 2])
    assert (girl.rating.mu, girl.rating.sigma, girl.rating.verdicts) == (g.mu, g.sigma, 2)
    assert (demo.rating.mu, demo.rating.sigma, demo.rating.verdicts) == (d.mu, d.sigma, 2)
    assert (aioagi.rating.mu, aioagi.rating.verdicts) == (a.mu, 1)
    # Blind verdicts alone: only the second.
    b = PlackettLuce()
    [[ba], [bd], [bg]] = b.rate([[b.rating()], [b.rating()], [b.rating()]], ranks=[2, 1, 2])
    assert demo.blind_rating.mu == bd.mu and girl.blind_rating.mu == bg.mu
    assert demo.blind_rating.verdicts == 1


def test_the_page_shows_them(alice_client, history):
    r = alice_client.get("/vendors/")
    assert r.status_code == 200
    page = r.content.decode()
    assert "GirlGeneratorAI · default" in page
    assert "60 %" in page and "20.0 s" in page and "40.0 s" in page
    assert "2.33 credits" in page and "4000.00 tokens" in page
    assert "content policy: 1" in page and "expired: 1" in page
    assert "1 / 1" in page
    # A rating chart per unit (credits, tokens) and a bar per day for 30 days.
    assert page.count('class="chart-svg scatter"') == 2
    assert page.count('class="bar"') == 30


def test_the_daily_median(alice):
    today = timezone.localdate()
    by_day = {today: [3.0, 1.0, 2.0], today - timedelta(days=2): [10.0, 20.0]}
    chart = scoreboard.time_chart(by_day, today - timedelta(days=29), today)
    titles = [bar["title"] for bar in chart["bars"]]
    assert len(titles) == 30 and titles[-1].endswith(": 2.0 s") and titles[-3].endswith(": 15.0 s")
    assert chart["bars"][-3]["height"] == "140.0" and chart["peak"] == "15.0"


@pytest.mark.parametrize("count", [10, 10_000])
def test_the_scoreboard_costs_the_same_at_any_size(
    alice_client, alice, count, django_assert_num_queries
):
    fill(alice, count)
    now = timezone.now()
    Generation.objects.filter(owner=alice).update(
        submitted_at=now - timedelta(seconds=9), finished_at=now
    )
    jobs = list(Generation.objects.filter(owner=alice)[:6])
    for i in range(3):
        verdict(alice, i % 2 == 0, (jobs[2 * i], True), (jobs[2 * i + 1], False))
    # Session, user, teams, how jobs ended, times to image, images, spend, verdicts.
    with django_assert_num_queries(8):
        r = alice_client.get("/vendors/")
    assert r.status_code == 200
    rows = r.context["rows"]
    assert len(rows) == min(count, 15)  # vendors i % 3, models i % 5
    assert sum(len(row.times) for row in rows) == count


def test_a_team_scoreboard_is_made_of_what_was_shared_with_the_team(
    client, alice, bob, carol, history
):
    from accounts import membership
    from studio.sharing import services as sharing

    team = membership.create_team(alice, "Painters")
    membership.accept_invite(membership.invite_user(team, alice, bob), bob)
    first, second = Comparison.objects.exclude(decided_at=None).order_by("decided_at")
    sharing.create_link(alice, kind="comparison", comparison=first, audience="team", team=team)
    # Shared with anyone, or revoked: not the team's.
    sharing.create_link(alice, kind="comparison", comparison=second, audience="anyone")
    revoked, _token = sharing.create_link(
        alice, kind="comparison", comparison=second, audience="team", team=team
    )
    sharing.revoke_link(revoked)

    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    r = client.get(f"/vendors/?team={team.pk}")
    assert r.status_code == 200
    rows = {(row.vendor, row.model): row for row in r.context["rows"]}
    # Only the first comparison's three jobs, and its one open verdict.
    assert set(rows) == {("girlgenerator", "default"), ("demo", "demo"), ("aioagi", "gpt-image-2")}
    assert sum(row.jobs for row in rows.values()) == 3
    assert rows["girlgenerator", "default"].wins_open == 1
    assert rows["girlgenerator", "default"].verdicts_blind == 0
    page = r.content.decode()
    assert "Cost per image" not in page and "2.33" not in page
    # Bob's own scoreboard is his own (empty) history.
    assert client.get("/vendors/").context["rows"] == []

    client.force_login(carol, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(f"/vendors/?team={team.pk}").status_code == 404
    assert client.get("/vendors/?team=x").status_code == 404
