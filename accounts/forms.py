from __future__ import annotations

from urllib.parse import urlsplit

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from accounts import vault
from accounts.models import VENDORS_WITH_EXTRA_SECRET, Credential, Vendor
from studio import vendors


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form, whose name field is posted as `username` (the studio's fixed
    contract, and what django-axes reads); it takes an email address too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = _("Username or email")
        self.fields["login"].widget.attrs.pop("placeholder", None)
        self.fields["password"].widget.attrs.pop("placeholder", None)

    def add_prefix(self, field_name: str) -> str:
        return super().add_prefix("username" if field_name == "login" else field_name)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        taken = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if email and taken.exists():
            raise forms.ValidationError(_("An account with this email already exists."))
        return email


# --- The key vault ------------------------------------------------------------------------------

MAX_SECRET_BYTES = 4096


def secret_input() -> forms.PasswordInput:
    # Write-only: the value is never rendered back, and browsers are asked not to save it.
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})


def mirrors(vendor: str) -> dict[str, str]:
    """The documented alternative addresses of a vendor, by name (e.g. AIOAGI's mirror)."""
    return vendors.get_adapter(vendor).mirrors


def mirror_choices() -> list[tuple[str, str]]:
    choices = [("", _("The vendor's default address"))]
    for vendor in Vendor:
        for name, url in mirrors(vendor).items():
            host = urlsplit(url).hostname
            choices.append((name, f"{vendor.label}: {_('mirror')} {host}"))
    return choices


def clean_secret(value: str) -> str:
    """Checks a pasted secret. Outer whitespace (a trailing newline) is already stripped.

    Error messages never repeat the value.
    """
    if len(value.encode()) > MAX_SECRET_BYTES:
        raise forms.ValidationError(_("That is too long to be an API key (over 4 KB)."))
    if any(ch.isspace() for ch in value):
        raise forms.ValidationError(
            _("An API key has no spaces or line breaks inside. Check what you pasted.")
        )
    if not all("!" <= ch <= "~" for ch in value):
        raise forms.ValidationError(
            _("An API key holds only ASCII letters, digits and punctuation.")
        )
    if len(value) < 8:
        raise forms.ValidationError(_("That is too short to be an API key."))
    return value


class CredentialForm(forms.Form):
    """Adds a credential, or (with `credential`) replaces its secrets, label and address."""

    vendor = forms.ChoiceField(
        label=_("Vendor"),
        choices=[("", "---------"), *Vendor.choices],
        error_messages={"invalid_choice": _("Choose one of the listed vendors.")},
    )
    label = forms.CharField(
        label=_("Label"), max_length=100, help_text=_("For example “team key” or “personal”.")
    )
    api_key = forms.CharField(
        label=_("API key"),
        widget=secret_input(),
        error_messages={"required": _("Paste the API key.")},
        help_text=_("It is stored encrypted and never shown again, only its last four characters."),
    )
    extra_secret = forms.CharField(
        label=_("Management token (LemonData only, optional)"),
        widget=secret_input(),
        required=False,
        help_text=_("The mt-… token lets the studio read your LemonData balance."),
    )
    mirror = forms.ChoiceField(
        label=_("Address"),
        required=False,
        help_text=_("AIOAGI offers a mirror; other vendors use the operator's address."),
    )
    is_default = forms.BooleanField(
        label=_("Use this key by default for its vendor"), required=False
    )
    # Offered only once a check could not reach the vendor (see `offer_skip`).
    skip_check = forms.BooleanField(
        label=_("Save it without checking (verify it later on the Keys page)"),
        required=False,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, owner, credential: Credential | None = None, **kwargs):
        self.owner = owner
        self.credential = credential
        if credential is not None:
            kwargs.setdefault("initial", {"label": credential.label, "mirror": credential.mirror})
        super().__init__(*args, **kwargs)
        self.fields["mirror"].choices = mirror_choices()
        if credential is not None:
            # A replaced key keeps its vendor and its place as default (or not).
            del self.fields["vendor"]
            del self.fields["is_default"]
            self.fields["api_key"].label = _("New API key")
            self.fields["extra_secret"].help_text = _(
                "Enter it again to keep one: replacing a key replaces both secrets."
            )

    def judge(self, check: vault.KeyCheck) -> bool:
        """Whether a key the vendor was just asked about may be saved; if not, says why on
        the form. A key the vendor refused is never saved; when the vendor could not be
        asked, the form offers to save it unchecked."""
        if check.accepted:
            return True
        if check.inconclusive:
            self.add_error(
                None,
                _(
                    "The key could not be checked: %(reason)s Try again, or save it without "
                    "checking."
                )
                % {"reason": check.message},
            )
            self.fields["skip_check"].widget = forms.CheckboxInput()
        else:
            self.add_error("api_key", check.message)
        return False

    @property
    def vendor_id(self) -> str:
        if self.credential is not None:
            return self.credential.vendor
        return self.cleaned_data.get("vendor", "")

    def clean_api_key(self) -> str:
        return clean_secret(self.cleaned_data["api_key"])

    def clean_extra_secret(self) -> str:
        value = self.cleaned_data["extra_secret"]
        return clean_secret(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        vendor = self.vendor_id
        if not vendor:
            return cleaned
        if cleaned.get("extra_secret") and vendor not in VENDORS_WITH_EXTRA_SECRET:
            self.add_error("extra_secret", _("Only LemonData keys take a management token."))
        if cleaned.get("extra_secret") and cleaned.get("extra_secret") == cleaned.get("api_key"):
            self.add_error(
                "extra_secret", _("The management token is a different secret from the API key.")
            )
        mirror = cleaned.get("mirror")
        if mirror and mirror not in mirrors(vendor):
            self.add_error("mirror", _("This vendor has no such mirror."))
        others = Credential.objects.usable().filter(owner=self.owner, vendor=vendor)
        if self.credential is not None:
            others = others.exclude(pk=self.credential.pk)
        label = cleaned.get("label")
        if label and others.filter(label=label).exists():
            self.add_error("label", _("You already have a key with this label for this vendor."))
        api_key = cleaned.get("api_key")
        if api_key:
            same = others.filter(fingerprint=vault.fingerprint(api_key)).first()
            if same is not None:
                self.add_error(
                    "api_key",
                    _("This key is already stored as “%(label)s”.") % {"label": same.label},
                )
        return cleaned
