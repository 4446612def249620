"""Compare: one prompt on several vendors side by side, verdicts, and the scoreboard."""

from django.apps import AppConfig


class CompareConfig(AppConfig):
    # Its own app label, so that its migrations never interleave with the studio app's.
    name = "studio.compare"
    label = "compare"
    verbose_name = "Compare"
