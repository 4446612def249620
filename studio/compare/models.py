"""A comparison: one prompt sent to several targets (a key and a model each) at once, one
normal generation per target, and the user's verdict on which did best.

Each column points at its target's current generation: the job itself lives in the engine
(studio.models.Generation) and is in the gallery and the ledger like any other.
"""

from __future__ import annotations

import string

from django.conf import settings
from django.db import models
from django.utils import timezone


class Comparison(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    prompt = models.TextField()
    # The aspect ratio asked for ("16:9"); each column got the nearest its target offers.
    aspect_ratio = models.CharField(max_length=10)
    # Blind: columns shuffled and labelled A, B, C… until a verdict, then revealed.
    blind = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    # When winners were marked (and, in blind mode, the vendors revealed).
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at", "-id"], name="comparison_order")]

    def __str__(self) -> str:
        return f"comparison {self.pk}: {self.prompt[:40]}"

    @property
    def hidden(self) -> bool:
        """Whether vendors and models are still to be kept from the page."""
        return self.blind and self.decided_at is None


class Column(models.Model):
    comparison = models.ForeignKey(Comparison, models.CASCADE, related_name="columns")
    # Order on the page: shuffled when the comparison is blind.
    position = models.PositiveSmallIntegerField()
    credential = models.ForeignKey(
        "accounts.Credential", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    vendor = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    # The column's current job; re-running the column points it at a new one.
    generation = models.ForeignKey(
        "studio.Generation", models.CASCADE, related_name="comparison_columns"
    )
    is_winner = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["comparison", "position"], name="column_once_per_position"
            )
        ]

    def __str__(self) -> str:
        return f"column {self.letter} of comparison {self.comparison_id}"

    @property
    def letter(self) -> str:
        return string.ascii_uppercase[self.position]
