"""The compare form: one prompt, one aspect ratio, shared settings, and up to eight targets
(a key and a model each), every one with its own optional overrides. Plain fields in fixed
rows, so that it works as an ordinary form post without JavaScript."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from studio.compare import services
from studio.compare.services import MAX_TARGETS, Plan, Target
from studio.models import ReferenceImage
from studio.web.forms import MultipleFileField, MultipleFileInput, clean_references
from studio.web.params import IdsField

SHARED = ""
COUNTS = [(str(i), str(i)) for i in range(1, 5)]
QUALITIES = [
    ("low", _("Low")),
    ("medium", _("Medium")),
    ("high", _("High")),
]


class CompareForm(forms.Form):
    prompt = forms.CharField(
        label=_("Prompt"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "data-counter": "prompt-counter"}),
    )
    aspect_ratio = forms.ChoiceField(
        label=_("Aspect ratio"),
        choices=[(r, r) for r in services.ASPECT_RATIOS],
        initial="1:1",
        help_text=_("Each target gets the nearest size or aspect ratio it offers."),
    )
    n = forms.TypedChoiceField(
        label=_("Number of images"), choices=COUNTS, coerce=int, initial="1", required=False
    )
    quality = forms.ChoiceField(
        label=_("Quality"),
        choices=[("", _("Vendor's default")), *QUALITIES],
        required=False,
        help_text=_("Where a target offers it."),
    )
    blind = forms.BooleanField(
        label=_("Blind: hide vendors and models until I pick a winner"), required=False
    )
    reference = IdsField(
        queryset=ReferenceImage.objects.none(), required=False, widget=forms.MultipleHiddenInput
    )
    upload = MultipleFileField(
        label=_("Reference images"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
        help_text=_("Optional. Sent only to targets that take them."),
    )

    def __init__(self, owner, data=None, files=None, initial=None) -> None:
        super().__init__(data, files, initial=initial)
        self.owner = owner
        self.targets = {t.value: t for t in services.targets_for(owner)}
        choices = [("", _("—"))] + [
            (t.value, f"{t.key_label} — {t.model_label}") for t in self.targets.values()
        ]
        for i in range(MAX_TARGETS):
            self.fields[f"target_{i}"] = forms.ChoiceField(
                label=_("Target %(letter)s") % {"letter": services.letter(i)},
                choices=choices,
                required=False,
            )
            self.fields[f"n_{i}"] = forms.TypedChoiceField(
                label=_("Images"),
                choices=[(SHARED, _("Shared")), *COUNTS],
                coerce=int,
                empty_value=None,
                required=False,
            )
            self.fields[f"quality_{i}"] = forms.ChoiceField(
                label=_("Quality"),
                choices=[(SHARED, _("Shared")), ("default", _("Vendor's default")), *QUALITIES],
                required=False,
            )
        self.fields["reference"].queryset = ReferenceImage.objects.filter(owner=owner)
        self.plans: list[Plan] = []

    @property
    def targets_with_keys(self) -> bool:
        return any(t.credential for t in self.targets.values())

    @property
    def rows(self) -> list[dict]:
        """The target rows, each with its fields and (after validation) its plan."""
        plans = {id(p.target): p for p in self.plans}
        rows = []
        for i in range(MAX_TARGETS):
            target = self._target(i)
            rows.append(
                {
                    "letter": services.letter(i),
                    "target": self[f"target_{i}"],
                    "n": self[f"n_{i}"],
                    "quality": self[f"quality_{i}"],
                    "plan": plans.get(id(target)) if target else None,
                }
            )
        return rows

    def _target(self, i: int) -> Target | None:
        cleaned = getattr(self, "cleaned_data", {})
        return self.targets.get(cleaned.get(f"target_{i}") or "")

    @property
    def chosen_references(self) -> list[ReferenceImage]:
        if self.is_bound and hasattr(self, "cleaned_data"):
            return self.cleaned_data.get("all_references", [])
        return []

    def clean(self) -> dict:
        data = super().clean()
        data["all_references"] = clean_references(self, data)

        chosen = [i for i in range(MAX_TARGETS) if data.get(f"target_{i}")]
        values = [data[f"target_{i}"] for i in chosen]
        if len(set(values)) < len(values):
            self.add_error(None, _("Choose each key and model once."))
        if not services.MIN_TARGETS <= len(chosen) <= MAX_TARGETS:
            self.add_error(None, _("Choose between 2 and 8 targets."))
        self.plans = [self._plan(i, data) for i in chosen]
        if data.get("prompt") and self.plans:
            services.check_plans(self.owner, data["prompt"], self.plans)
            for plan in self.plans:
                if plan.error:
                    letter = services.letter(self._index(plan))
                    self.add_error(None, f"{letter}: {plan.error}")
        return data

    def _index(self, plan: Plan) -> int:
        return next(i for i in range(MAX_TARGETS) if self._target(i) is plan.target)

    def _plan(self, i: int, data: dict) -> Plan:
        n = data.get(f"n_{i}") or data.get("n") or 1
        quality = data.get(f"quality_{i}") or data.get("quality") or ""
        return services.plan_target(
            self.targets[data[f"target_{i}"]],
            aspect_ratio=data.get("aspect_ratio") or "1:1",
            n=n,
            quality=quality,
            references=data["all_references"],
        )
