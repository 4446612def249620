"""The download setting page (/downloads/settings/)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from studio.downloads import services
from studio.downloads.models import DownloadPreference


class DownloadSettingsForm(forms.Form):
    embed_metadata = forms.BooleanField(
        label=DownloadPreference._meta.get_field("embed_metadata").verbose_name, required=False
    )


@login_required
def download_settings(request: HttpRequest) -> HttpResponse:
    initial = {"embed_metadata": services.embeds_metadata(request.user)}
    form = DownloadSettingsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.set_embed_metadata(request.user, form.cleaned_data["embed_metadata"])
        messages.success(request, _("Download settings saved."))
        return redirect("download_settings")
    return render(request, "studio/downloads/settings.html", {"form": form})
