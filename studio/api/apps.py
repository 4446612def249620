"""The studio as an API: OpenAI-compatible image endpoints and personal access tokens."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    # Its own app label, so that its migrations never interleave with the studio app's.
    name = "studio.api"
    label = "api"
    verbose_name = "API"
