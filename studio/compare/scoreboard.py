"""The scoreboard (/vendors/): per vendor and model, from the user's own history, how jobs
went, how long images took, what they cost, and how the user rated them in comparisons.

The preference rating is openskill's Plackett-Luce model (docs/decisions.md), fitted over every
verdict in the order they were given: in each verdict every winner ranks above every other
column that made images. Everything is read in five queries, however long the history.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Count, Sum
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from openskill.models import PlackettLuce

from accounts.models import Team
from studio.compare.models import Column
from studio.models import CreditEntry, Generation, Image
from studio.sharing.services import shared_comparisons
from studio.templatetags.studio import vendor_label

Status = Generation.Status
CHART_DAYS = 30
CHART_WIDTH, CHART_HEIGHT = 600, 140
# Ends that count against a vendor. A job the user canceled says nothing about the vendor.
FAILURES = (Status.FAILED, Status.EXPIRED, Status.UNKNOWN_OUTCOME)
FAILURE_LABELS = {
    "bad_credential": _("key refused"),
    "insufficient_credits": _("no credits"),
    "invalid_params": _("settings refused"),
    "content_policy": _("content policy"),
    "rate_limited": _("rate limited"),
    "not_found": _("job lost"),
    "vendor_unavailable": _("vendor unavailable"),
    "unexpected_response": _("unexpected reply"),
    "no_images": _("no images"),
    "result_lost": _("images lost"),
    "expired": _("expired"),
    "unknown_outcome": _("outcome unknown"),
    "failed": _("failed"),
}


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value that p % of the values do not exceed."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def failure_category(status: str, error_code: str) -> str:
    if status in (Status.EXPIRED, Status.UNKNOWN_OUTCOME):
        return str(status)
    return error_code or "failed"


@dataclass
class Rating:
    mu: float
    sigma: float
    verdicts: int

    @property
    def spread(self) -> float:
        """Twice the uncertainty: the rating is likely within mu ± spread."""
        return 2 * self.sigma

    @property
    def low(self) -> float:
        return self.mu - 2 * self.sigma

    @property
    def high(self) -> float:
        return self.mu + 2 * self.sigma


@dataclass
class Row:
    vendor: str
    model: str
    jobs: int = 0
    succeeded: int = 0
    failures: Counter = field(default_factory=Counter)
    times: list[float] = field(default_factory=list)
    images: int = 0
    spend: dict[str, Decimal] = field(default_factory=dict)
    wins_blind: int = 0
    wins_open: int = 0
    verdicts_blind: int = 0
    verdicts_open: int = 0
    rating: Rating | None = None
    blind_rating: Rating | None = None

    @property
    def label(self) -> str:
        return f"{vendor_label(self.vendor)} · {self.model}"

    @property
    def success_rate(self) -> float | None:
        ended = self.succeeded + sum(self.failures.values())
        return self.succeeded / ended if ended else None

    @property
    def median_time(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def p90_time(self) -> float | None:
        return percentile(self.times, 90) if self.times else None

    @property
    def cost_per_image(self) -> list[tuple[Decimal, str]]:
        if not self.images:
            return []
        return [(total / self.images, unit) for unit, total in sorted(self.spend.items())]

    @property
    def failure_list(self) -> list[tuple[str, int]]:
        return [
            (str(FAILURE_LABELS.get(code, code)), count)
            for code, count in sorted(self.failures.items(), key=lambda kv: (-kv[1], kv[0]))
        ]


def fit_ratings(verdicts: list[list[tuple[tuple[str, str], bool]]]) -> dict[tuple, Rating]:
    """openskill ratings from verdicts, oldest first; each verdict lists its (player, won)
    columns. A player (vendor, model) that has several columns in one verdict ranks by its
    best; a verdict with fewer than two players, or no loser, carries no preference."""
    model = PlackettLuce()
    ratings: dict[tuple, object] = {}
    counts: Counter = Counter()
    for columns in verdicts:
        ranks: dict[tuple, int] = {}
        for player, won in columns:
            ranks[player] = min(ranks.get(player, 2), 1 if won else 2)
        if len(ranks) < 2 or len(set(ranks.values())) < 2:
            continue
        players = sorted(ranks)
        teams = [[ratings.get(p) or model.rating(name="|".join(p))] for p in players]
        rated = model.rate(teams, ranks=[ranks[p] for p in players])
        for player, team in zip(players, rated, strict=True):
            ratings[player] = team[0]
            counts[player] += 1
    return {p: Rating(r.mu, r.sigma, counts[p]) for p, r in ratings.items()}


def scoreboard(owner: User, today: date | None = None) -> dict:
    """The user's own history: every job, every image and spend, every verdict."""
    return _board(
        jobs=Generation.objects.filter(owner=owner),
        images=Image.objects.filter(owner=owner),
        spend=CreditEntry.objects.filter(owner=owner, generation__isnull=False),
        columns=Column.objects.filter(comparison__owner=owner),
        today=today,
    )


def team_scoreboard(team: Team, today: date | None = None) -> dict:
    """The comparisons shared with `team` (sharing's live team links): their jobs and their
    verdicts, whoever in the team made them. No spend: a share never shows what its owner
    spent."""
    comparisons = shared_comparisons(team)
    return _board(
        jobs=Generation.objects.filter(comparison_columns__comparison__in=comparisons),
        images=Image.objects.filter(generation__comparison_columns__comparison__in=comparisons),
        spend=None,
        columns=Column.objects.filter(comparison__in=comparisons),
        today=today,
    )


def _board(jobs, images, spend, columns, today: date | None) -> dict:
    today = today or timezone.localdate()
    rows: dict[tuple[str, str], Row] = {}

    def row(vendor: str, model: str) -> Row:
        return rows.setdefault((vendor, model), Row(vendor, model))

    # 1. Jobs and how they ended.
    ends = jobs.values("vendor", "model", "status", "error_code").annotate(n=Count("id"))
    for end in ends.order_by():
        r = row(end["vendor"], end["model"])
        r.jobs += end["n"]
        if end["status"] == Status.SUCCEEDED:
            r.succeeded += end["n"]
        elif end["status"] in FAILURES:
            r.failures[failure_category(end["status"], end["error_code"])] += end["n"]

    # 2. Time to image (the paid POST leaving → images stored), and its daily median.
    first_day = today - timedelta(days=CHART_DAYS - 1)
    by_day: dict[date, list[float]] = defaultdict(list)
    done = jobs.filter(
        status=Status.SUCCEEDED, submitted_at__isnull=False, finished_at__isnull=False
    ).values_list("vendor", "model", "submitted_at", "finished_at")
    for vendor, model, submitted, finished in done.order_by():
        seconds = max(0.0, (finished - submitted).total_seconds())
        row(vendor, model).times.append(seconds)
        day = timezone.localdate(finished)
        if first_day <= day <= today:
            by_day[day].append(seconds)

    # 3. Images made (deleted ones too: they were paid for) and 4. what the vendors reported
    # spending, per unit.
    made = images.values("generation__vendor", "generation__model").annotate(n=Count("id"))
    for pair in made.order_by():
        row(pair["generation__vendor"], pair["generation__model"]).images = pair["n"]
    if spend is not None:
        spent = (
            spend.exclude(kind=CreditEntry.Kind.IMAGES)
            .values("generation__vendor", "generation__model", "unit")
            .annotate(total=Sum("amount"))
        )
        for total in spent.order_by():
            r = row(total["generation__vendor"], total["generation__model"])
            r.spend[total["unit"]] = total["total"]

    # 5. Verdicts: wins, and the ratings.
    verdict_columns = (
        columns.filter(
            comparison__decided_at__isnull=False,
            generation__status=Status.SUCCEEDED,
        )
        .order_by("comparison__decided_at", "comparison_id", "position")
        .values_list("comparison_id", "comparison__blind", "vendor", "model", "is_winner")
    )
    verdicts: dict[int, list] = {}
    blind: dict[int, bool] = {}
    for comparison_id, is_blind, vendor, model, won in verdict_columns:
        verdicts.setdefault(comparison_id, []).append(((vendor, model), won))
        blind[comparison_id] = is_blind
    for comparison_id, columns in verdicts.items():
        kind = "blind" if blind[comparison_id] else "open"
        for player in {p for p, _won in columns}:
            r = row(*player)
            setattr(r, f"verdicts_{kind}", getattr(r, f"verdicts_{kind}") + 1)
        for player in {p for p, won in columns if won}:
            r = row(*player)
            setattr(r, f"wins_{kind}", getattr(r, f"wins_{kind}") + 1)
    for player, rating in fit_ratings(list(verdicts.values())).items():
        row(*player).rating = rating
    blind_verdicts = [columns for cid, columns in verdicts.items() if blind[cid]]
    for player, rating in fit_ratings(blind_verdicts).items():
        row(*player).blind_rating = rating

    ordered = sorted(
        rows.values(),
        key=lambda r: (r.rating is None, -(r.rating.low if r.rating else 0), r.vendor, r.model),
    )
    return {
        "rows": ordered,
        "rating_charts": rating_charts(ordered),
        "time_chart": time_chart(by_day, first_day, today),
        "chart_size": (CHART_WIDTH, CHART_HEIGHT),
        "with_cost": spend is not None,
    }


# --- Charts (SVG drawn on the server; coordinates always with a full stop) ---------------------


def rating_charts(rows: list[Row]) -> list[dict]:
    """Rating against cost per image, one chart per unit: credits and tokens share no axis."""
    by_unit: dict[str, list[tuple[Row, Decimal]]] = defaultdict(list)
    for r in rows:
        if r.rating is None:
            continue
        for value, unit in r.cost_per_image:
            by_unit[unit].append((r, value))
    charts = []
    for unit, points in sorted(by_unit.items()):
        top = max(float(v) for _r, v in points) or 1.0
        low = min(r.rating.low for r, _v in points)
        high = max(r.rating.high for r, _v in points)
        span = (high - low) or 1.0
        pad = 40  # room for labels on the left and right

        def y(mu: float, low=low, span=span) -> str:
            return f"{CHART_HEIGHT - (mu - low) / span * CHART_HEIGHT:.1f}"

        marks = []
        for r, value in points:
            x = pad + float(value) / top * (CHART_WIDTH - 2 * pad)
            marks.append(
                {
                    "x": f"{x:.1f}",
                    "y": y(r.rating.mu),
                    "y_low": y(r.rating.low),
                    "y_high": y(r.rating.high),
                    "label": r.label,
                    # Labels of points on the right half read leftwards, inside the chart.
                    "end": x > CHART_WIDTH / 2,
                    "title": f"{r.label}: {r.rating.mu:.1f} ± {2 * r.rating.sigma:.1f}, "
                    f"{formats.number_format(value, 2)} {unit}",
                }
            )
        charts.append(
            {
                "unit": unit,
                "marks": marks,
                "top": formats.number_format(top, 2),
                "low": f"{low:.0f}",
                "high": f"{high:.0f}",
            }
        )
    return charts


def time_chart(by_day: dict[date, list[float]], first: date, last: date) -> dict | None:
    """Median time to image per day, all vendors together, as bars."""
    if not by_day:
        return None
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    medians = {day: statistics.median(values) for day, values in by_day.items()}
    peak = max(medians.values()) or 1.0
    slot = CHART_WIDTH / len(days)
    bars = []
    for i, day in enumerate(days):
        value = medians.get(day)
        height = round(value / peak * CHART_HEIGHT, 1) if value else 0
        label = formats.date_format(day, "SHORT_DATE_FORMAT")
        bars.append(
            {
                "x": f"{i * slot + 1:.1f}",
                "y": f"{CHART_HEIGHT - height:.1f}",
                "height": f"{height:.1f}",
                "title": f"{label}: {value:.1f} s" if value is not None else f"{label}: —",
            }
        )
    return {
        "bars": bars,
        "width": f"{slot - 2:.1f}",
        "peak": f"{peak:.1f}",
        "first": formats.date_format(days[0], "SHORT_DATE_FORMAT"),
        "last": formats.date_format(days[-1], "SHORT_DATE_FORMAT"),
    }
