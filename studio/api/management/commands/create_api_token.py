"""`manage.py create_api_token <username> [--name NAME] [--scope generate|read]`: prints a new
token, alone on one line, for scripts and tests. A fixed contract: keep its name and output."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from studio.api import services
from studio.api.models import ApiToken


class Command(BaseCommand):
    help = "Creates an API token for a user and prints it (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default="generate")

    def handle(self, *args, username: str, name: str, scope: str, **options):
        try:
            user = get_user_model().objects.get(username=username, is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No active user called {username!r}.") from None
        _token, secret = services.create_token(user, name=name[:100], scope=scope, via="command")
        self.stdout.write(secret)
