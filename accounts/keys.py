"""The /keys/ pages: a user's vendor keys, write-only.

Every response carries `Cache-Control: no-store` (never_cache) and the pages opt out of htmx's
history cache, so no copy of them lingers in a browser. Keys are never rendered: only labels,
last four characters and fingerprints.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import vault
from accounts.forms import CredentialForm
from accounts.models import Credential, CredentialEvent

SECRET_FIELDS = ("api_key", "extra_secret")


def _get_credential_for_user(request: HttpRequest, pk: int) -> Credential:
    return get_object_or_404(Credential, pk=pk, owner=request.user)


def _back_to_keys(request: HttpRequest, anchor: str = "") -> HttpResponse:
    url = "/keys/" + anchor
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@sensitive_variables()
def _check(form: CredentialForm, vendor: str) -> vault.KeyCheck | None | bool:
    """Asks the vendor about the key before it is saved: the check, None when the user chose
    to skip it (the vendor is down), or False when the form must come back (refused, or the
    vendor could not be asked)."""
    data = form.cleaned_data
    if data.get("skip_check"):
        return None
    secrets = vault.VendorSecrets(data["api_key"], data["extra_secret"] or None)
    check = vault.check_secrets(vendor, data["mirror"], secrets)
    return check if form.judge(check) else False


def _saved(request: HttpRequest, credential: Credential, check, template: str) -> None:
    text = template % {"credential": credential}
    if check is None:
        messages.warning(request, text + " " + _("It was not checked: verify it before use."))
        return
    vault.record_check(credential, check)
    messages.success(request, f"{text} {check.message}")


@never_cache
@login_required
def keys(request: HttpRequest) -> HttpResponse:
    ctx = {
        "credentials": Credential.objects.filter(owner=request.user),
        "events": CredentialEvent.objects.filter(owner=request.user)[:30],
    }
    return render(request, "accounts/keys.html", ctx)


@never_cache
@sensitive_post_parameters(*SECRET_FIELDS)
@login_required
def add_key(request: HttpRequest) -> HttpResponse:
    form = CredentialForm(request.POST or None, owner=request.user)
    if request.method == "POST" and form.is_valid():
        check = _check(form, form.cleaned_data["vendor"])
        if check is not False:
            credential = vault.add_credential(
                request.user,
                vendor=form.cleaned_data["vendor"],
                label=form.cleaned_data["label"],
                api_key=form.cleaned_data["api_key"],
                extra_secret=form.cleaned_data["extra_secret"] or None,
                mirror=form.cleaned_data["mirror"],
                make_default=form.cleaned_data["is_default"],
            )
            _saved(request, credential, check, _("Saved %(credential)s."))
            return _back_to_keys(request, f"#credential-{credential.pk}")
    template = "accounts/keys_form.html#key-form" if request.htmx else "accounts/keys_form.html"
    return render(request, template, {"form": form, "action": "/keys/add/"})


@never_cache
@sensitive_post_parameters(*SECRET_FIELDS)
@login_required
def replace_key(request: HttpRequest, pk: int) -> HttpResponse:
    credential = _get_credential_for_user(request, pk)
    form = CredentialForm(request.POST or None, owner=request.user, credential=credential)
    if request.method == "POST" and form.is_valid():
        check = _check(form, credential.vendor)
        if check is not False:
            vault.replace_secrets(
                credential,
                api_key=form.cleaned_data["api_key"],
                extra_secret=form.cleaned_data["extra_secret"] or None,
                label=form.cleaned_data["label"],
                mirror=form.cleaned_data["mirror"],
            )
            _saved(request, credential, check, _("Replaced the key of %(credential)s."))
            return _back_to_keys(request, f"#credential-{credential.pk}")
    ctx = {"form": form, "credential": credential, "action": f"/keys/{credential.pk}/replace/"}
    template = "accounts/keys_form.html#key-form" if request.htmx else "accounts/keys_form.html"
    return render(request, template, ctx)


@never_cache
@require_POST
@login_required
def verify_key(request: HttpRequest, pk: int) -> HttpResponse:
    credential = _get_credential_for_user(request, pk)
    if credential.is_revoked:
        message = _("A revoked key is not checked. Replace it to use it again.")
    else:
        message = vault.verify_credential(credential).message
    if request.htmx:
        return render(request, "accounts/keys.html#credential-row", {"credential": credential})
    messages.info(request, f"{credential}: {message}")
    return redirect(f"/keys/#credential-{credential.pk}")


@never_cache
@require_POST
@login_required
def make_default(request: HttpRequest, pk: int) -> HttpResponse:
    credential = _get_credential_for_user(request, pk)
    if credential.is_revoked:
        messages.error(request, _("A revoked key cannot be the default."))
    else:
        vault.make_default(credential)
        messages.success(
            request,
            _("%(credential)s is now your default %(vendor)s key.")
            % {"credential": credential, "vendor": credential.get_vendor_display()},
        )
    return _back_to_keys(request, f"#credential-{credential.pk}")


@never_cache
@require_POST
@login_required
def revoke_key(request: HttpRequest, pk: int) -> HttpResponse:
    credential = _get_credential_for_user(request, pk)
    if not credential.is_revoked:
        vault.revoke_credential(credential)
        messages.success(
            request,
            _(
                "Revoked %(credential)s: the studio will not use it again. "
                "Revoke it at the vendor too."
            )
            % {"credential": credential},
        )
    return _back_to_keys(request, f"#credential-{credential.pk}")


@never_cache
@login_required
def delete_key(request: HttpRequest, pk: int) -> HttpResponse:
    credential = _get_credential_for_user(request, pk)
    if request.method == "POST":
        name = str(credential)
        try:
            vault.delete_credential(credential)
        except ProtectedError:
            messages.error(
                request,
                _("%(credential)s has history that needs it: revoke it instead.")
                % {"credential": name},
            )
            return _back_to_keys(request, f"#credential-{credential.pk}")
        messages.success(request, _("Deleted %(credential)s.") % {"credential": name})
        return _back_to_keys(request)
    return render(request, "accounts/keys_delete.html", {"credential": credential})
