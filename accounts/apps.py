from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # The audit trail's signal receivers (accounts/security.py).
        from accounts import security  # noqa: F401
