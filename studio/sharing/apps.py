from django.apps import AppConfig


class SharingConfig(AppConfig):
    # Its own app label, so that its migrations never interleave with the studio app's.
    name = "studio.sharing"
    label = "sharing"
    verbose_name = "Sharing"
