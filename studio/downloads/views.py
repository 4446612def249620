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


class DownloadSettingsForm(forms.ModelForm):
    class Meta:
        model = DownloadPreference
        fields = ["embed_metadata"]


@login_required
def download_settings(request: HttpRequest) -> HttpResponse:
    current = DownloadPreference(embed_metadata=services.embeds_metadata(request.user))
    form = DownloadSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        services.set_embed_metadata(request.user, form.cleaned_data["embed_metadata"])
        messages.success(request, _("Download settings saved."))
        return redirect("download_settings")
    return render(request, "studio/downloads/settings.html", {"form": form})
