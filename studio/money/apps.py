"""Money: the price book, spend in money, budgets with reservations, and team keys."""

from django.apps import AppConfig


class MoneyConfig(AppConfig):
    # Its own app label, so that its migrations never interleave with the studio app's.
    name = "studio.money"
    label = "money"
    verbose_name = "Money"
