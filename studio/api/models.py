"""Personal access tokens for the API, and their audit trail.

A token is 256 random bits shown once; only its SHA-256 is stored (accounts.tokens), as for
share links, and a lookup is one indexed query by that hash.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    class Scope(models.TextChoices):
        GENERATE = "generate", _("Generate and read")
        READ = "read", _("Read only")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    # The token's last four characters, so its owner can tell tokens apart.
    last4 = models.CharField(max_length=4)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} (…{self.last4})"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        return "live" if self.is_live() else "expired"


class ApiTokenEvent(models.Model):
    """What happened to a token: kept after the token is deleted with its name and last four."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        REVOKED = "revoked", _("Revoked")
        REFUSED = "refused", _("Refused (revoked or expired token used)")
        SCOPE = "scope", _("Refused (outside the token's scope)")
        RATE_LIMITED = "rate_limited", _("Rate limit reached")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, models.SET_NULL, null=True, related_name="events")
    name = models.CharField(max_length=100)
    last4 = models.CharField(max_length=4)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Where the event came from: "web", "command", or the API path that was refused.
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.name}"
