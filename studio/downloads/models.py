"""A user's download preference: whether downloaded files carry the prompt and settings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DownloadPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="download_preference"
    )
    embed_metadata = models.BooleanField(
        _("Write the prompt, vendor, model and settings into downloaded files"), default=True
    )

    def __str__(self) -> str:
        return f"download preference of {self.user_id}"
