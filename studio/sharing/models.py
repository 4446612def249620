"""Collections of images, and share links to a collection, a filtered gallery view or one image.

A share link is a capability: its 256-bit token is shown once and only its SHA-256 is stored
(accounts.tokens). What a link shows is always computed from its owner's images at the time of
each request (studio.sharing.services.link_images), so a revoked or expired link, or an image
removed from a collection, stops being served at once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Collection(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="collections")
    name = models.CharField(_("name"), max_length=100)
    images = models.ManyToManyField("studio.Image", through="CollectionItem", related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["owner", "name"])]

    def __str__(self) -> str:
        return self.name


class CollectionItem(models.Model):
    collection = models.ForeignKey(Collection, models.CASCADE, related_name="items")
    image = models.ForeignKey("studio.Image", models.CASCADE, related_name="collection_items")
    position = models.PositiveIntegerField(default=0)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "image"], name="image_once_per_collection"
            )
        ]

    def __str__(self) -> str:
        return f"image {self.image_id} in {self.collection_id} at {self.position}"


class ShareLink(models.Model):
    class Kind(models.TextChoices):
        COLLECTION = "collection", _("Collection")
        GALLERY = "gallery", _("Gallery view")
        IMAGE = "image", _("Image")
        COMPARISON = "comparison", _("Comparison")

    class Audience(models.TextChoices):
        TEAM = "team", _("Members of a team")
        ANYONE = "anyone", _("Anyone with the link")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="share_links")
    token_hash = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    collection = models.ForeignKey(
        Collection, models.CASCADE, null=True, blank=True, related_name="links"
    )
    image = models.ForeignKey(
        "studio.Image", models.CASCADE, null=True, blank=True, related_name="+"
    )
    comparison = models.ForeignKey(
        "compare.Comparison", models.CASCADE, null=True, blank=True, related_name="links"
    )
    # A gallery view: the gallery's own query parameters (studio.web.gallery parses them).
    filters = models.JSONField(default=dict, blank=True)
    # A gallery view shows only images made before the link, unless the owner asked otherwise.
    include_later = models.BooleanField(default=False)
    audience = models.CharField(max_length=10, choices=Audience.choices)
    team = models.ForeignKey(
        "accounts.Team", models.CASCADE, null=True, blank=True, related_name="share_links"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(comparison__isnull=True)
                & (
                    Q(kind="collection", collection__isnull=False, image__isnull=True)
                    | Q(kind="image", image__isnull=False, collection__isnull=True)
                    | Q(kind="gallery", image__isnull=True, collection__isnull=True)
                )
                | Q(
                    kind="comparison",
                    comparison__isnull=False,
                    image__isnull=True,
                    collection__isnull=True,
                ),
                name="share_link_target_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(audience="team", team__isnull=False)
                | Q(audience="anyone", team__isnull=True),
                name="share_link_team_matches_audience",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} link {self.pk}"

    def is_live(self, now=None) -> bool:
        """Neither revoked nor expired."""
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if not self.is_live():
            return "expired"
        return "live"
