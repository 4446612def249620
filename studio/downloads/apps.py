"""Downloads: image metadata added at download time, streamed ZIPs with a manifest."""

from django.apps import AppConfig


class DownloadsConfig(AppConfig):
    name = "studio.downloads"
    label = "downloads"
    default_auto_field = "django.db.models.BigAutoField"
