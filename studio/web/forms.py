"""The generate form, shaped by what the chosen key's vendor and model accept.

The form only offers what the adapter's capabilities list; `create_generation` validates again
and is the authority (its messages land next to the fields)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Credential
from studio.engine.images import ImageRejected
from studio.engine.references import save_reference
from studio.models import Generation, ReferenceImage
from studio.money import services as money
from studio.vendors import get_adapter
from studio.vendors.base import Adapter, ModelSpec, parse_size
from studio.web.params import IdsField

DEMO = "demo"
DEMO_LABEL = _("Demo (offline, free)")
SCENE_LABELS = {
    "text-to-image": _("Text to image"),
    "image-to-image": _("Image to image"),
    "edit": _("Edit an image"),
}
# Vendor parameters a person chooses. Transport details (response_format) are the engine's.
CHOICE_LABELS = {
    "quality": _("Quality"),
    "style": _("Style"),
    "background": _("Background"),
    "output_format": _("File format"),
    "moderation": _("Moderation"),
    "input_fidelity": _("Input fidelity"),
}
# The values of those parameters, in the user's language; the value sent stays the vendor's.
# File formats (png, jpeg, webp) are names, the same in every language.
OPTION_LABELS = {
    "low": pgettext_lazy("option", "low"),
    "medium": pgettext_lazy("option", "medium"),
    "high": pgettext_lazy("option", "high"),
    "auto": pgettext_lazy("option", "auto"),
    "standard": pgettext_lazy("option", "standard"),
    "hd": pgettext_lazy("option", "hd"),
    "vivid": pgettext_lazy("option", "vivid"),
    "natural": pgettext_lazy("option", "natural"),
    "transparent": pgettext_lazy("option", "transparent"),
    "opaque": pgettext_lazy("option", "opaque"),
}
PARAM_LABELS = {
    **CHOICE_LABELS,
    "size": _("Size"),
    "aspect_ratio": _("Aspect ratio"),
    "n": _("Number of images"),
}
# The adapters' size rules (studio.vendors.base.SizeRule), in the user's language. The engine's
# messages are English; for a custom size the form shows these instead.
SIZE_RULE_MESSAGES = {
    "multiple_of": _("Width and height must be multiples of %(value)s."),
    "max_edge": _("The longest side can be at most %(value)s pixels."),
    "min_pixels": _("The image needs at least %(value)s pixels (width × height)."),
    "max_pixels": _("The image can have at most %(value)s pixels (width × height)."),
    "max_aspect": _("The long side can be at most %(value)s times the short side."),
}
SIZE_RULE_HINTS = {
    "multiple_of": _("Multiples of %(value)s"),
    "max_edge": _("Longest side up to %(value)s px"),
    "min_pixels": _("At least %(value)s pixels in all"),
    "max_pixels": _("At most %(value)s pixels in all"),
    "max_aspect": _("Long side at most %(value)s × the short side"),
}
CUSTOM = "custom"
# What vendors publish about price, per image.
COST_HINTS = {
    "girlgenerator": _("1–3 credits per image, reported by the vendor after each job."),
    DEMO: _("Free: the demo draws images on this machine."),
}
MAX_UPLOAD_BYTES = 20_000_000


def _number(value: float) -> str:
    """A rule's figure in the user's locale: 8,294,400; 3 rather than 3.0."""
    return number_format(int(value) if value == int(value) else value, force_grouping=True)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def key_label(credential: Credential, user) -> str:
    """A key as the picker shows it (a team key as its label and owner, never its last
    characters); one that failed its check says so before it is chosen."""
    label = money.choice_label(credential, user)
    if credential.status == Credential.Status.FAILED:
        return str(_("%(key)s (failed verification)") % {"key": label})
    return str(label)


def clean_references(form: forms.Form, data: dict) -> list[ReferenceImage]:
    """The references a form carries (already uploaded ones, by id) and the files uploaded with
    it, each checked and stored; a rejected file becomes an error on the form's `upload`."""
    references = list(data.get("reference") or [])
    for upload in data.get("upload") or []:
        if upload.size > MAX_UPLOAD_BYTES:
            form.add_error("upload", _("%(name)s is larger than 20 MB.") % {"name": upload})
            continue
        try:
            references.append(save_reference(form.owner, upload.read()))
        except ImageRejected as exc:
            form.add_error("upload", f"{upload}: {exc}")
    return references


def _select(**attrs: str) -> forms.Select:
    # Changing a shaping field asks the server for the form that fits the new choice.
    return forms.Select(
        attrs={
            "hx-get": "/generate/form/",
            "hx-target": "#generate-form",
            "hx-select": "#generate-form",
            "hx-swap": "outerHTML",
            "hx-include": "#generate-form",
            # The CSRF token has no business in a URL (logs, history).
            "hx-params": "not csrfmiddlewaretoken",
            **attrs,
        }
    )


class GenerateForm(forms.Form):
    key = forms.ChoiceField(label=_("Key"), widget=_select())
    model = forms.ChoiceField(label=_("Model"), widget=_select())
    scene = forms.ChoiceField(label=_("Kind of job"), widget=_select())
    prompt = forms.CharField(
        label=_("Prompt"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "data-counter": "prompt-counter"}),
    )
    reference = IdsField(
        queryset=ReferenceImage.objects.none(),
        required=False,
        widget=forms.MultipleHiddenInput,
    )
    upload = MultipleFileField(
        label=_("Reference images"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )

    def __init__(self, owner, data=None, files=None, initial=None) -> None:
        super().__init__(data, files, initial=initial)
        self.owner = owner
        # One's own keys and the team keys shared with one (studio.money).
        self.credentials = money.usable_credentials(owner)
        values = self.data if self.is_bound else (self.initial or {})
        self._values = values

        keys = [(DEMO, DEMO_LABEL)] + [(str(c.pk), key_label(c, owner)) for c in self.credentials]
        self.fields["key"].choices = keys
        last_key, last_model = self._last_used()
        key = self._pick(values.get("key"), [k for k, _ in keys], last_key or self._default_key())
        self.credential = next((c for c in self.credentials if str(c.pk) == key), None)
        self.vendor = self.credential.vendor if self.credential else DEMO
        self.adapter: Adapter = get_adapter(self.vendor, self.credential)
        caps = self.adapter.capabilities

        self.fields["model"].choices = [(m.name, m.label) for m in caps.models]
        remembered = last_model if key == last_key else None
        model = self._pick(values.get("model"), [m.name for m in caps.models], remembered)
        self.spec: ModelSpec = caps.model(model)  # type: ignore[assignment]
        self.fields["scene"].choices = [(s, SCENE_LABELS.get(s, s)) for s in self.spec.scenes]
        self.scene = self._pick(values.get("scene"), list(self.spec.scenes))
        if not self.is_bound:
            self.initial.update(key=key, model=model, scene=self.scene)

        if caps.prompt_max:
            self.fields["prompt"].widget.attrs["data-maxlength"] = str(caps.prompt_max)
        self._add_vendor_fields()
        self.fields["reference"].queryset = ReferenceImage.objects.filter(owner=owner)
        if not self.takes_references:
            del self.fields["upload"]

    # --- shaping -------------------------------------------------------------------------

    def _default_key(self) -> str:
        """Before the first job: a default key that did not fail its check, else the demo."""
        default = next(
            (
                c
                for c in self.credentials
                # A team key is its owner's default, not the member's.
                if c.is_default and c.owner_id == self.owner.pk and c.status != c.Status.FAILED
            ),
            None,
        )
        return str(default.pk) if default else DEMO

    def _last_used(self) -> tuple[str | None, str | None]:
        """The key and model of the user's latest job, so that the form opens where they left
        off: a demo try stays on the demo rather than going to a paid vendor's default key."""
        last = (
            Generation.objects.filter(owner=self.owner)
            .order_by("-created_at", "-pk")
            .values_list("vendor", "credential_id", "model")
            .first()
        )
        if last is None:
            return None, None
        vendor, credential_id, model = last
        if vendor == DEMO:
            return DEMO, model
        if any(c.pk == credential_id for c in self.credentials):
            return str(credential_id), model
        return None, None  # that key was deleted or revoked since

    @staticmethod
    def _pick(value: Any, allowed: list[str], default: str | None = None) -> str:
        if isinstance(value, list):
            value = value[-1] if value else None
        if value in allowed:
            return value
        return default if default in allowed else allowed[0]

    def _add_vendor_fields(self) -> None:
        spec = self.spec
        if spec.size_param:
            label = _("Size") if spec.size_param == "size" else _("Aspect ratio")
            sizes = [(size, OPTION_LABELS.get(size, size)) for size in spec.sizes]
            default = spec.default_size or (spec.sizes[0] if spec.sizes else CUSTOM)
            if spec.size_rule:
                sizes.append((CUSTOM, _("Custom size…")))
                self._carry_custom_size()
                # Choosing "Custom size…" reveals the width and height (htmx reshapes the form;
                # without JavaScript they appear when the form comes back).
                self._add_choice(spec.size_param, label, sizes, default, widget=_select())
                if self._values.get(spec.size_param) == CUSTOM or (
                    not self.is_bound and self.initial.get(spec.size_param) == CUSTOM
                ):
                    self._add_custom_size_fields()
            else:
                self._add_choice(spec.size_param, label, sizes, default)
        if spec.n_max > 1:
            counts = [(str(i), str(i)) for i in range(1, spec.n_max + 1)]
            self._add_choice(
                "n",
                _("Number of images"),
                counts,
                "1",
                field_class=forms.TypedChoiceField,
                coerce=int,
                empty_value=None,
            )
        for name, options in spec.choices.items():
            if name in CHOICE_LABELS:
                choices = [("", _("Vendor's default"))] + [
                    (o, OPTION_LABELS.get(o, o)) for o in options
                ]
                self._add_choice(name, CHOICE_LABELS[name], choices, "")

    def _carry_custom_size(self) -> None:
        """An earlier job's free size ("2048x1152", from "use these settings again") comes
        back as the custom size it was."""
        if self.is_bound:
            return
        name = self.spec.size_param
        size = parse_size(self.initial.get(name))
        if size and self.initial.get(name) not in self.spec.sizes:
            self.initial[name] = CUSTOM
            self.initial.setdefault("width", size[0])
            self.initial.setdefault("height", size[1])

    def _add_custom_size_fields(self) -> None:
        rule = self.spec.size_rule
        step = str(rule.multiple_of) if rule else "1"
        for name, label in (("width", _("Width")), ("height", _("Height"))):
            field = forms.IntegerField(label=label, required=False, min_value=1, max_value=99_999)
            # Hints for the browser's number input; the server judges by the rule.
            field.widget.attrs.update(
                {
                    "inputmode": "numeric",
                    "min": step,
                    "step": step,
                    "aria-describedby": "size-rules",
                }
            )
            if rule and rule.max_edge:
                field.widget.attrs["max"] = str(rule.max_edge)
            self.fields[name] = field

    @property
    def custom_size(self) -> bool:
        return "width" in self.fields

    @property
    def size_rule_hints(self) -> list[str]:
        rule = self.spec.size_rule
        if rule is None:
            return []
        hints = []
        for name, text in SIZE_RULE_HINTS.items():
            value = getattr(rule, name)
            if value is not None and not (name == "multiple_of" and value == 1):
                hints.append(text % {"value": _number(value)})
        return hints

    def _size_rule_message(self, english: str) -> str:
        """The engine's English sentence about a custom size, in the user's language."""
        rule, data = self.spec.size_rule, self.cleaned_data
        broken = rule.broken(data["width"], data["height"]) if rule else None
        if broken is None:
            return english
        return str(SIZE_RULE_MESSAGES[broken] % {"value": _number(getattr(rule, broken))})

    def _add_choice(self, name, label, choices, default, field_class=forms.ChoiceField, **kw):
        # Not required: a client that leaves a setting out gets the vendor's default.
        self.fields[name] = field_class(label=label, choices=choices, required=False, **kw)
        if not self.is_bound:
            # A value carried over from another vendor that this one does not offer falls
            # back to this one's default.
            allowed = [value for value, _label in choices]
            self.initial[name] = self._pick(self.initial.get(name), allowed, default)

    @property
    def vendor_fields(self) -> list[forms.BoundField]:
        fixed = {"key", "model", "scene", "prompt", "reference", "upload", "width", "height"}
        return [self[name] for name in self.fields if name not in fixed]

    @property
    def key_failed(self) -> bool:
        return bool(self.credential and self.credential.status == Credential.Status.FAILED)

    @property
    def takes_references(self) -> bool:
        return self.scene != "text-to-image" and self.spec.max_references > 0

    @property
    def references_need_public_url(self) -> bool:
        return self.adapter.capabilities.reference_mode == "url" and not settings.STUDIO_PUBLIC_URL

    @property
    def prompt_max(self) -> int | None:
        return self.adapter.capabilities.prompt_max

    @property
    def cost_hint(self):
        return COST_HINTS.get(self.vendor, _("Not published by the vendor."))

    @property
    def estimate(self) -> money.Estimate:
        """The job's cost before it is sent, from the price book (templates/money/)."""
        params = {k: self._values.get(k) for k in ("n", "quality", self.spec.size_param)}
        return money.estimate(
            self.vendor,
            self.spec.name,
            {k: v for k, v in params.items() if k and v},
            self.credential.pk if self.credential else None,
        )

    @cached_property
    def budget_warnings(self) -> list[str]:
        return money.warnings_for(self.owner, self.credential)

    @cached_property
    def chosen_references(self) -> list[ReferenceImage]:
        """References already uploaded, to show and to carry through a re-rendered form."""
        if self.is_bound and hasattr(self, "cleaned_data"):
            return self.cleaned_data.get("all_references", [])
        ids = self.initial.get("reference") or []
        return list(ReferenceImage.objects.filter(owner=self.owner, pk__in=ids))

    # --- validation ----------------------------------------------------------------------

    def clean(self) -> dict:
        data = super().clean()
        data["all_references"] = clean_references(self, data)
        missing = data.get("width") is None or data.get("height") is None
        if self.custom_size and missing and not self.errors.keys() & {"width", "height"}:
            self.add_error("width", _("Enter a width and a height for the custom size."))
        if not self.takes_references:
            data["all_references"] = []
        elif self.references_need_public_url:
            self.add_error(None, self.public_url_message())
        return data

    def public_url_message(self) -> str:
        return str(
            _(
                "%(vendor)s fetches reference images from a web address, and this studio has "
                "none configured (STUDIO_PUBLIC_URL), so it cannot send them references. "
                "Choose text to image, or a vendor that takes uploaded files."
            )
            % {"vendor": self.adapter.label}
        )

    def generation_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        params = {f.name: data.get(f.name) for f in self.vendor_fields}
        if self.custom_size:
            # The adapter's validate() judges it against the model's size rule.
            params[self.spec.size_param] = f"{data['width']}x{data['height']}"
        return {
            "vendor": self.vendor,
            "credential": self.credential,
            "model": self.spec.name,
            "scene": self.scene,
            "prompt": data["prompt"],
            "params": params,
            "references": data["all_references"],
        }

    def add_engine_errors(self, error: ValidationError) -> None:
        """The engine's field → message dict, next to our fields where we have them."""
        messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for name, texts in messages.items():
            field = {"references": "upload", "credential": "key"}.get(name, name)
            if self.custom_size and field == self.spec.size_param:
                field, texts = "width", [self._size_rule_message(t) for t in texts]
            if field not in self.fields:
                field = None
            for text in texts:
                self.add_error(field, text)

    def carried_values(self) -> dict[str, Any]:
        """What a fresh form after a successful submit keeps: everything the user chose."""
        values = {name: self.data.get(name) for name in self.fields if name != "upload"}
        values["reference"] = [r.pk for r in self.cleaned_data.get("all_references", [])]
        return values


def reference_model(vendor: str, credential: Credential | None) -> ModelSpec | None:
    """The first model of a key that takes reference images and can be sent them here."""
    caps = get_adapter(vendor, credential).capabilities
    if caps.reference_mode == "url" and not settings.STUDIO_PUBLIC_URL:
        return None
    return next((m for m in caps.models if takes_references(m)), None)


def takes_references(spec: ModelSpec) -> bool:
    return spec.max_references > 0 and "image-to-image" in spec.scenes


def reference_target(owner) -> dict[str, str]:
    """The key and model "use as reference" opens the form on: the current key (the one the
    form would open on) if it takes references, with its current model if that one does;
    otherwise the user's default key that takes them. {} when none does."""
    current = GenerateForm(owner)
    spec = reference_model(current.vendor, current.credential)
    if spec is not None:
        if takes_references(current.spec):
            spec = current.spec
        return {"key": current["key"].value(), "model": spec.name}
    for credential in current.credentials:
        own = credential.owner_id == current.owner.pk  # a team key is its owner's default
        if credential.is_default and own and credential.status != Credential.Status.FAILED:
            spec = reference_model(credential.vendor, credential)
            if spec is not None:
                return {"key": str(credential.pk), "model": spec.name}
    return {}
