"""Comparisons: what each target is sent, starting one, re-running, verdicts; apart from views.

A comparison is nothing but normal generations grouped: every target's job goes through
`studio.engine.services.create_generation` (one paid POST each, in the gallery and the ledger
as any job). Every target is validated first, and the jobs are created in one transaction, so
one invalid target means nothing is stored and nothing is sent.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Credential
from studio.compare.models import Column, Comparison
from studio.engine import services as engine
from studio.models import CreditEntry, Generation, Image, ReferenceImage
from studio.money import services as money
from studio.vendors.base import ModelSpec
from studio.web import search

DEMO = "demo"
MIN_TARGETS, MAX_TARGETS = 2, 8
ASPECT_RATIOS = ("1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16")
# A shared quality in plain words, and what each vendor calls the nearest of its own levels.
QUALITY_LADDER = {
    "low": ("low", "standard"),
    "medium": ("medium", "standard"),
    "high": ("high", "hd"),
}


# --- Targets and what each is sent -------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A key (None: the demo) and one of its vendor's models."""

    credential: Credential | None
    vendor: str
    model: str
    key_label: str
    model_label: str

    @property
    def value(self) -> str:
        return f"{self.credential.pk if self.credential else DEMO}:{self.model}"


def targets_for(owner: User) -> list[Target]:
    """Every key and model the owner may compare: the demo's models, then each usable key's."""
    targets = [
        Target(None, DEMO, m.name, _("Demo (offline, free)"), m.label)
        for m in engine.capabilities(DEMO).models
    ]
    # One's own keys and the team keys shared with one (studio.money).
    credentials = sorted(money.usable_credentials(owner), key=lambda c: (c.vendor, c.pk))
    for credential in credentials:
        label = money.choice_label(credential, owner)
        targets += [
            Target(credential, credential.vendor, m.name, label, m.label)
            for m in engine.capabilities(credential.vendor, credential).models
        ]
    return targets


def ratio_of(size: str) -> float | None:
    """16:9 → 1.78, 1792x1024 → 1.75; None for "auto" and anything else."""
    for sep in (":", "x"):
        width, found, height = size.partition(sep)
        if found and width.isdigit() and height.isdigit() and int(height):
            return int(width) / int(height)
    return None


def nearest_size(spec: ModelSpec, aspect_ratio: str) -> str | None:
    """The size or aspect ratio the model offers that is nearest in shape to `aspect_ratio`
    (on a log scale, so 2:1 and 1:2 are as far from 1:1); ties go to the model's default."""
    if not spec.size_param or not spec.sizes:
        return None
    if aspect_ratio in spec.sizes:
        return aspect_ratio
    wanted = math.log(ratio_of(aspect_ratio) or 1.0)
    shaped = [(s, ratio_of(s)) for s in spec.sizes]
    candidates = [
        (abs(math.log(r) - wanted), s != spec.default_size, i, s)
        for i, (s, r) in enumerate(shaped)
        if r
    ]
    if not candidates:
        return spec.default_size or spec.sizes[0]
    return min(candidates)[3]


def nearest_quality(spec: ModelSpec, level: str) -> str | None:
    options = spec.choices.get("quality", ())
    if not level or not options:
        return None
    if level in options:
        return level
    return next((q for q in QUALITY_LADDER.get(level, ()) if q in options), None)


@dataclass
class Plan:
    """What one target will be sent, and what the form says about it before submit."""

    target: Target
    spec: ModelSpec
    scene: str
    params: dict
    references: list[ReferenceImage]
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def size(self) -> str | None:
        return self.params.get(self.spec.size_param) if self.spec.size_param else None

    @property
    def estimate(self) -> money.Estimate:
        credential = self.target.credential
        return money.estimate(
            self.target.vendor,
            self.target.model,
            self.params,
            credential.pk if credential else None,
        )


def takes_references(target: Target, spec: ModelSpec) -> bool:
    caps = engine.capabilities(target.vendor, target.credential)
    needs_public_url = caps.reference_mode == "url" and not settings.STUDIO_PUBLIC_URL
    return "image-to-image" in spec.scenes and spec.max_references > 0 and not needs_public_url


def plan_target(
    target: Target,
    *,
    aspect_ratio: str,
    n: int = 1,
    quality: str = "",
    references: list[ReferenceImage] = (),
) -> Plan:
    spec = engine.capabilities(target.vendor, target.credential).model(target.model)
    if spec is None:
        raise ValueError(f"{target.vendor} has no model {target.model}")
    params: dict = {}
    notes: list[str] = []
    size = nearest_size(spec, aspect_ratio)
    if size:
        params[spec.size_param] = size
        if size != aspect_ratio:
            notes.append(
                _("%(size)s, the nearest to %(ratio)s") % {"size": size, "ratio": aspect_ratio}
            )
    if spec.n_max > 1:
        params["n"] = min(n, spec.n_max)
    elif n > 1:
        notes.append(_("1 image: it makes one per request"))
    level = nearest_quality(spec, quality)
    if level:
        params["quality"] = level
    elif quality and quality != "default":
        notes.append(_("No quality setting: the vendor decides"))
    scene, chosen = "text-to-image", []
    if references:
        if takes_references(target, spec):
            scene, chosen = "image-to-image", list(references)[: spec.max_references]
            if len(chosen) < len(references):
                notes.append(
                    ngettext(
                        "Takes only the first %(count)d reference image",
                        "Takes only the first %(count)d reference images",
                        len(chosen),
                    )
                    % {"count": len(chosen)}
                )
        else:
            notes.append(_("Takes no reference images: it gets the prompt alone"))
    return Plan(target, spec, scene, params, chosen, notes)


def check_plans(owner: User, prompt: str, plans: list[Plan]) -> bool:
    """Runs the engine's validation (the adapter's own rules) on every plan, before anything is
    sent; each plan keeps its message. True when every target may go."""
    for plan in plans:
        try:
            engine.validate_generation(owner, **_job(plan, prompt))
        except ValidationError as exc:
            plan.error = " ".join(exc.messages)
        else:
            plan.error = ""
    return not any(plan.error for plan in plans)


def _job(plan: Plan, prompt: str) -> dict:
    target = plan.target
    return {
        "vendor": target.vendor,
        "credential": target.credential,
        "model": target.model,
        "prompt": prompt,
        "scene": plan.scene,
        "params": plan.params,
        "references": plan.references,
    }


def start_comparison(
    owner: User, *, prompt: str, aspect_ratio: str, blind: bool, plans: list[Plan]
) -> Comparison:
    """One normal generation per plan, grouped. Validates every plan first: any invalid one
    raises ValidationError and nothing is stored or sent."""
    if not MIN_TARGETS <= len(plans) <= MAX_TARGETS:
        raise ValidationError(_("Choose between 2 and 8 targets."))
    if not check_plans(owner, prompt, plans):
        raise ValidationError([f"{letter(i)}: {p.error}" for i, p in enumerate(plans) if p.error])
    positions = list(range(len(plans)))
    if blind:
        random.shuffle(positions)
    with transaction.atomic():
        comparison = Comparison.objects.create(
            owner=owner, prompt=prompt, aspect_ratio=aspect_ratio, blind=blind
        )
        for plan, position in zip(plans, positions, strict=True):
            job = engine.create_generation(owner, **_job(plan, prompt))
            Column.objects.create(
                comparison=comparison,
                position=position,
                credential=plan.target.credential,
                vendor=plan.target.vendor,
                model=plan.target.model,
                generation=job,
            )
    return comparison


def letter(index: int) -> str:
    return chr(ord("A") + index)


# --- Re-running --------------------------------------------------------------------------------


def rerun_column(column: Column) -> Generation:
    """The column's job sent again as a new job (the old one stays in the gallery and ledger)."""
    job = engine.submit_again(column.generation)
    Column.objects.filter(pk=column.pk).update(generation=job)
    column.generation = job
    return job


def rerun_comparison(comparison: Comparison) -> Comparison:
    """A new comparison of the same targets and settings (and, if blind, a new shuffle)."""
    columns = list(comparison.columns.select_related("generation", "credential"))
    columns.sort(key=lambda c: c.pk)  # the order the user chose them in
    plans = []
    for column in columns:
        job = column.generation
        spec = engine.capabilities(column.vendor, column.credential).model(column.model)
        if spec is None:
            raise ValidationError(_("A model of this comparison is no longer offered."))
        target = Target(column.credential, column.vendor, column.model, "", spec.label)
        plans.append(Plan(target, spec, job.scene, job.params, list(job.references.all())))
    return start_comparison(
        comparison.owner,
        prompt=comparison.prompt,
        aspect_ratio=comparison.aspect_ratio,
        blind=comparison.blind,
        plans=plans,
    )


# --- Verdicts ----------------------------------------------------------------------------------


def record_verdict(comparison: Comparison, winners: list[Column], note: str) -> None:
    """Marks `winners` (columns of this comparison with images) and reveals a blind one."""
    ids = {c.pk for c in winners}
    if not ids or any(c.comparison_id != comparison.pk for c in winners):
        raise ValidationError(_("Mark at least one winner."))
    if any(c.generation.status != Generation.Status.SUCCEEDED for c in winners):
        raise ValidationError(_("Only a column with images can win."))
    with transaction.atomic():
        comparison.columns.update(is_winner=False)
        comparison.columns.filter(pk__in=ids).update(is_winner=True)
        comparison.note = note
        comparison.decided_at = comparison.decided_at or timezone.now()
        comparison.save(update_fields=["note", "decided_at"])


# --- Reading -----------------------------------------------------------------------------------


def comparisons_of(owner: User, query: str = "") -> QuerySet[Comparison]:
    comparisons = Comparison.objects.filter(owner=owner)
    if query.strip():
        # The prompt is each job's prompt too: the gallery's indexed search finds the jobs.
        jobs = search.search_prompts(Generation.objects.filter(owner=owner), query)
        comparisons = comparisons.filter(
            pk__in=Column.objects.filter(generation__in=jobs).values("comparison_id")
        )
    return comparisons


def _with_details(columns: QuerySet[Column]) -> list[Column]:
    images = Image.objects.visible().order_by("index")
    spend = CreditEntry.objects.order_by("kind")
    return list(
        columns.select_related("generation").prefetch_related(
            Prefetch("generation__images", queryset=images, to_attr="visible_images"),
            Prefetch("generation__spend", queryset=spend, to_attr="spend_rows"),
        )
    )


def columns_of(comparison: Comparison) -> list[Column]:
    """The columns in page order, each job with its visible images and its spend."""
    return _with_details(comparison.columns.all())


def column_of(comparison: Comparison, pk: int) -> Column | None:
    found = _with_details(comparison.columns.filter(pk=pk))
    return found[0] if found else None


def comparison_images(comparison: Comparison) -> QuerySet[Image]:
    """The images of the comparison's current jobs, column by column (for share links)."""
    return (
        Image.objects.visible()
        .filter(generation__comparison_columns__comparison=comparison)
        .order_by("generation__comparison_columns__position", "index")
    )


def time_to_image(job: Generation) -> float | None:
    """Seconds from the paid POST leaving to the images stored, for a job that made them."""
    if job.status != Generation.Status.SUCCEEDED or not job.submitted_at or not job.finished_at:
        return None
    return max(0.0, (job.finished_at - job.submitted_at).total_seconds())


def _moment(value) -> datetime | float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def vendor_seconds(raw: dict | None) -> float | None:
    """The vendor's own time for the task, where its reply states when it started and ended
    (e.g. `created_at` and `finished_at`, or a task's `created_at` and its result's
    `created`); None where it does not say."""
    if not isinstance(raw, dict):
        return None
    result = raw.get("result") if isinstance(raw.get("result"), dict) else {}
    start = next(
        (m for k in ("created_at", "started_at") if (m := _moment(raw.get(k))) is not None), None
    )
    ends = (raw.get("finished_at"), raw.get("completed_at"), result.get("created"))
    end = next((m for v in ends if (m := _moment(v)) is not None), None)
    if start is None or end is None or end < start:
        return None
    return end - start


def revised_prompt(raw: dict | None) -> str:
    """The prompt as the vendor rewrote it, where its reply carries one."""
    if not isinstance(raw, dict):
        return ""
    for holder in (raw, raw.get("result")):
        if isinstance(holder, dict) and isinstance(holder.get("data"), list):
            for item in holder["data"]:
                if isinstance(item, dict) and str(item.get("revised_prompt") or "").strip():
                    return str(item["revised_prompt"])
    return ""


def cost(job: Generation) -> list[tuple[Decimal, str]]:
    """What the vendor reported spending on the job, per unit (credits, tokens), in the
    vendor's own units; empty when it reported nothing but the images."""
    rows = getattr(job, "spend_rows", None)
    if rows is None:
        rows = list(job.spend.all())
    return [(r.amount, r.unit) for r in rows if r.kind != CreditEntry.Kind.IMAGES]


def with_facts(columns: list[Column]) -> list[Column]:
    """Adds what a column shows besides its job: times, cost, the vendor's revised prompt."""
    for column in columns:
        job = column.generation
        column.time_to_image = time_to_image(job)
        column.vendor_time = vendor_seconds(job.raw_reply)
        column.cost = cost(job)
        column.revised_prompt = revised_prompt(job.raw_reply)
        column.poll_state = f"{job.status}-{job.progress}"
    return columns


def with_summaries(comparisons: list[Comparison]) -> list[Comparison]:
    """Adds each comparison's columns with their jobs, for the list (one query for the page)."""
    columns = Column.objects.select_related("generation").order_by("position")
    prefetch_related_objects(comparisons, Prefetch("columns", queryset=columns))
    return comparisons


def get_comparison_for_user(request: HttpRequest, pk: int) -> Comparison:
    """The ownership helper: another user's comparison is a 404."""
    return get_object_or_404(Comparison, pk=pk, owner=request.user)


def shared_view(comparison: Comparison) -> dict:
    """What a share link shows of a comparison: columns with images, times and the verdict;
    never a key or what was spent. Blind and undecided, it stays blind."""
    columns = with_facts(columns_of(comparison))
    return {"comparison": comparison, "columns": columns, "hidden": comparison.hidden}
