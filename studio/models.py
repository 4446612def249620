from __future__ import annotations

import secrets
import zlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Generation(models.Model):
    """One job: a prompt sent to one vendor with one credential, and what came of it."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SUBMITTING = "submitting", _("Submitting")
        RUNNING = "running", _("Running")
        DOWNLOADING = "downloading", _("Downloading")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")
        UNKNOWN_OUTCOME = "unknown_outcome", _("Outcome unknown")
        CANCELED = "canceled", _("Canceled")
        EXPIRED = "expired", _("Expired")

    IN_FLIGHT = (Status.QUEUED, Status.SUBMITTING, Status.RUNNING, Status.DOWNLOADING)
    ENDED = (
        Status.SUCCEEDED,
        Status.FAILED,
        Status.UNKNOWN_OUTCOME,
        Status.CANCELED,
        Status.EXPIRED,
    )

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    # Kept when a credential is deleted: the history of what was generated stays.
    credential = models.ForeignKey(
        "accounts.Credential", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    vendor = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    scene = models.CharField(max_length=32, default="text-to-image")
    prompt = models.TextField()
    params = models.JSONField(default=dict, blank=True)
    references = models.ManyToManyField("ReferenceImage", blank=True, related_name="+")
    # An edit's mask (OpenAI's images.edit `mask`): sent beside the references, where the model
    # takes one (ModelSpec.masks).
    mask = models.ForeignKey(
        "ReferenceImage", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    retry_of = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, related_name="+")

    status = models.CharField(max_length=20, choices=Status, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    remote_id = models.CharField(max_length=500, blank=True)
    poll_url = models.CharField(max_length=1000, blank=True)
    # When the engine should next act on the job: a deferred submit or the next poll.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    polls = models.PositiveIntegerField(default=0)
    # Which poller shard the job belongs to: its rate bucket's (see `rate_bucket`), set when
    # the job is created, so one key's jobs are all polled by the pass holding that shard.
    shard = models.PositiveSmallIntegerField(default=0)
    # The last poll that found the job still running: the vendor was not done before it
    # (engine/schedule.py reads it to judge how likely the job is done now).
    polled_at = models.DateTimeField(null=True, blank=True)
    poll_errors = models.PositiveIntegerField(default=0)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    # A worker holds a job (submitting, downloading) until this time; past it, the recovery
    # sweep takes the job over.
    lease_until = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField()
    # Image sources the vendor reported, kept until they are stored (URLs only, never bytes).
    pending_sources = models.JSONField(default=list, blank=True)
    redownloads = models.PositiveSmallIntegerField(default=0)

    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    may_have_charged = models.BooleanField(default=False)
    raw_reply = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    # Set just before the paid POST leaves: from then on the vendor may have received it.
    submitted_at = models.DateTimeField(null=True, blank=True)
    running_at = models.DateTimeField(null=True, blank=True)
    downloading_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The user closed the job's card on the generate page; the job stays in the history.
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "next_poll_at"]),
            # A poller pass reads only the jobs of the shards it holds.
            models.Index(fields=["shard", "status", "next_poll_at"], name="generation_poll_shard"),
            # The gallery's vendor and model choices: a DISTINCT over this index alone.
            models.Index(fields=["owner", "vendor", "model"], name="generation_vendor_model"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor}/{self.model}: {self.prompt[:40]}"

    def save(self, *args, **kwargs):
        if self._state.adding:
            self.shard = shard_of(self.rate_bucket)
        super().save(*args, **kwargs)

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT

    @property
    def rate_bucket(self) -> str:
        """The rate budget its vendor requests draw from. Keyed by the key's fingerprint: two
        rows holding the same key share the vendor's budget (and the poller shard)."""
        credential = self.credential
        return f"{self.vendor}:{credential.fingerprint if credential else 'none'}"


def shard_of(bucket: str) -> int:
    # crc32, not hash(): the same key must land in the same shard in every process.
    return zlib.crc32(bucket.encode()) % settings.STUDIO_POLL_SHARDS


def image_path(instance, filename: str) -> str:
    # Random names: a guessed or leaked file name says nothing about its neighbours.
    token = secrets.token_hex(16)
    return f"images/{token[:2]}/{token}{filename[filename.rfind('.') :]}"


class ImageQuerySet(models.QuerySet):
    def visible(self) -> ImageQuerySet:
        """Not deleted: a deleted image waits out its undo window, then is purged."""
        return self.filter(deleted_at__isnull=True)


class Image(models.Model):
    generation = models.ForeignKey(Generation, models.CASCADE, related_name="images")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    index = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=image_path, max_length=200)
    thumbnail = models.FileField(upload_to=image_path, max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=8)
    bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    source_url = models.CharField(max_length=2000, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    favourite = models.BooleanField(default=False)
    # Soft delete: hidden at once, restorable for a short while, then purged with its files
    # (studio.web.gallery.purge_deleted_images).
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A second download of the same result (a redelivered task) cannot add a copy.
            models.UniqueConstraint(fields=["generation", "index"], name="image_once_per_index")
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            # The gallery's keyset paging walks (created_at, id) newest first.
            models.Index(fields=["owner", "-created_at", "-id"], name="image_gallery_order"),
        ]

    def __str__(self) -> str:
        return f"image {self.index} of generation {self.generation_id}"


class ReferenceImage(models.Model):
    """An image the user gave as input for image-to-image, validated and re-encoded."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    file = models.FileField(upload_to=image_path, max_length=200)
    format = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"reference image {self.pk}"


class CreditEntry(models.Model):
    """Append-only ledger: one row per spend signal a vendor gave (or images counted)."""

    class Kind(models.TextChoices):
        CREDITS = "credits", _("Credits")
        TOKENS = "tokens", _("Tokens")
        IMAGES = "images", _("Images")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    credential = models.ForeignKey(
        "accounts.Credential", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    generation = models.ForeignKey(Generation, models.SET_NULL, null=True, related_name="spend")
    vendor = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=Kind)
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    unit = models.CharField(max_length=16)
    balance_after = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    raw = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Copied from the job, like `vendor`: the money totals by model read the ledger alone.
    model = models.CharField(max_length=100, blank=True)
    # The row's value in money at the price of its day (studio.money); empty when not priced.
    money = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    price = models.ForeignKey(
        "money.Price", models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A repeated poll or a redelivered task cannot count the same spend twice.
            models.UniqueConstraint(fields=["generation", "kind"], name="credit_once_per_kind")
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            # Covers the credits page's recent spend (studio/web/credits.py): the daily chart's
            # 30 days and the live month's money totals read a range of this index alone.
            # created_at second: with it after the grouped columns (as in 0006's
            # credit_money_totals) the live month read the owner's whole ledger, 117,000
            # rows at 100,000 images (benchmarks/README.md, million). It also replaces
            # credit_spend_per_key, for the same reason: its order matched the per-key sums'
            # GROUP BY, so SQLite read the whole ledger through it for the live month's.
            models.Index(
                fields=[
                    "owner",
                    "created_at",
                    "vendor",
                    "model",
                    "credential",
                    "currency",
                    "unit",
                    "amount",
                    "money",
                ],
                name="credit_recent_spend",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.amount} {self.unit}"


class RateBudget(models.Model):
    """Requests recently sent with one vendor key, shared by every worker process and host."""

    bucket = models.CharField(max_length=100, unique=True)
    # Epoch seconds of the requests inside the current window, oldest first.
    hits = models.JSONField(default=list)
    blocked_until = models.DateTimeField(null=True, blank=True)
    # For a key whose vendor documents no limit: what its 429s taught us (ratelimit.py).
    learned_limit = models.PositiveIntegerField(null=True, blank=True)
    learned_period = models.FloatField(null=True, blank=True)
    learned_at = models.DateTimeField(null=True, blank=True)
    slow_start = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.bucket


class Lease(models.Model):
    """A named piece of work (a poller pass slot, a shard of jobs to poll): whoever holds an
    unexpired lease does it, and nobody else."""

    name = models.CharField(max_length=50, unique=True)
    holder = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name
