"""The key vault's rows: users' vendor credentials and their audit trail.

Secrets are stored only as ciphertext sealed by `accounts.vault`; the rest of a credential
(label, last four characters, fingerprint, status) is what the studio may show.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Vendor(models.TextChoices):
    GIRLGENERATOR = "girlgenerator", "GirlGeneratorAI"
    AIOAGI = "aioagi", "AIOAGI"
    LEMONDATA = "lemondata", "LemonData"
    CHATBP = "chatbp", "Chat Bp"
    CHATFIRE = "chatfire", "ChatFire"


# Vendors whose credentials may hold a second secret: LemonData's management token reads the
# balance, which its inference key cannot.
VENDORS_WITH_EXTRA_SECRET = {Vendor.LEMONDATA}


class CredentialQuerySet(models.QuerySet):
    def usable(self) -> CredentialQuerySet:
        return self.exclude(status=Credential.Status.REVOKED)

    def default_for(self, owner, vendor: str) -> Credential | None:
        return self.usable().filter(owner=owner, vendor=vendor, is_default=True).first()


class Credential(models.Model):
    class Status(models.TextChoices):
        UNVERIFIED = "unverified", _("Unverified")
        VERIFIED = "verified", _("Verified")
        FAILED = "failed", _("Failed")
        REVOKED = "revoked", _("Revoked")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="credentials")
    vendor = models.CharField(max_length=20, choices=Vendor.choices)
    label = models.CharField(max_length=100)
    # `enc:fernet:<key id>:<token>`, sealed to this owner and vendor (see accounts.vault);
    # erased (empty) once the credential is revoked.
    secret_ciphertext = models.TextField(blank=True)
    extra_secret_ciphertext = models.TextField(blank=True)
    # A keyed HMAC of the key (never a plain hash), so events can say which key was used.
    fingerprint = models.CharField(max_length=12)
    last4 = models.CharField(max_length=4)
    # Blank for the vendor's address, or the name of one of its adapter's documented mirrors
    # (AIOAGI's "aiearth.vip"); `studio.vendors.base_url_for(vendor, mirror)` resolves it.
    mirror = models.CharField(max_length=40, blank=True)
    is_default = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UNVERIFIED)
    status_message = models.CharField(max_length=300, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The vendor's own figure at the last successful check, when it reports one.
    balance = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    balance_unit = models.CharField(max_length=40, blank=True)
    balance_at = models.DateTimeField(null=True, blank=True)
    # Image model ids the vendor listed for this key at the last successful check
    # (STUDIO_DISCOVER_MODELS; studio.vendors.catalogue): offered besides the built-in ones.
    discovered_models = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        ordering = ["vendor", "-is_default", "label", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "vendor"],
                condition=Q(is_default=True),
                name="one_default_credential_per_vendor",
            ),
            models.UniqueConstraint(
                fields=["owner", "vendor", "label"],
                condition=~Q(status="revoked"),
                name="unique_credential_label_per_vendor",
            ),
            models.CheckConstraint(
                condition=Q(vendor__in=[v.value for v in Vendor]), name="credential_vendor_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_vendor_display()} · {self.label} · …{self.last4}"

    @property
    def is_revoked(self) -> bool:
        return self.status == self.Status.REVOKED

    @property
    def has_extra_secret(self) -> bool:
        return bool(self.extra_secret_ciphertext)


class CredentialEvent(models.Model):
    """One line of a credential's audit trail. Rows outlive the credential they describe."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Added")
        REPLACED = "replaced", _("Replaced")
        VERIFIED = "verified", _("Verified")
        VERIFY_FAILED = "verify_failed", _("Verification failed")
        REVOKED = "revoked", _("Revoked")
        DELETED = "deleted", _("Deleted")
        USED_AFTER_REVOCATION = "used_after_revocation", _("Use attempted after revocation")
        SHARED = "shared", _("Shared with a team")
        UNSHARED = "unshared", _("Sharing stopped")
        BUDGET = "budget", _("Budget changed")

    credential = models.ForeignKey(
        Credential, models.SET_NULL, null=True, blank=True, related_name="events"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="credential_events"
    )
    # Copied from the credential so that the row still says something after a delete.
    vendor = models.CharField(max_length=20, choices=Vendor.choices)
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    fingerprint = models.CharField(max_length=12)
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_vendor_display()} · {self.label}"


def record_event(credential: Credential, kind: str, message: str = "") -> CredentialEvent:
    """Adds a line to the audit trail. `message` must never hold a secret."""
    return CredentialEvent.objects.create(
        credential=credential if credential.pk else None,
        owner_id=credential.owner_id,
        vendor=credential.vendor,
        label=credential.label,
        kind=kind,
        fingerprint=credential.fingerprint,
        message=message[:300],
    )


# --- Teams ----------------------------------------------------------------------------------------


class Team(models.Model):
    class Requires(models.TextChoices):
        """What a member must have signed in with to use the team's shared keys
        (accounts.policy)."""

        # With a context: allauth's pages have their own "Two-step sign-in" and the like.
        NOTHING = "", pgettext_lazy("team rule", "Nothing more than a password")
        TWO_STEP = "two_step", pgettext_lazy("team rule", "Two-step sign-in")
        SSO = "sso", pgettext_lazy("team rule", "Single sign-on")

    name = models.CharField(_("name"), max_length=100)
    requires = models.CharField(
        pgettext_lazy("team rule", "members must use"),
        max_length=10,
        choices=Requires.choices,
        default="",
        blank=True,
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MEMBER = "member", _("Member")

    team = models.ForeignKey(Team, models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "user__username"]  # "member" sorts after "owner"
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER


class TeamEvent(models.Model):
    """One line of a team's audit trail (its sign-in rule, members joining through SSO), in
    words, kept with the team."""

    team = models.ForeignKey(Team, models.CASCADE, related_name="events")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.message


class TeamInvite(models.Model):
    """An invitation to join a team: addressed to one user, or a single-use link.

    A link invite stores only the SHA-256 of its token (accounts.tokens); the token itself is
    shown once, to the owner who made it. Either way the invite is used at most once.
    """

    team = models.ForeignKey(Team, models.CASCADE, related_name="invites")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    # Set for an invite by username; empty for a link invite.
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="team_invites",
    )
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # At most one of these is ever set: the invite's end.
    accepted_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(invitee__isnull=True, token_hash__isnull=False)
                | Q(invitee__isnull=False, token_hash__isnull=True),
                name="invite_is_for_a_user_or_a_link",
            ),
        ]

    def __str__(self) -> str:
        return f"invite to {self.team}"

    @property
    def is_link(self) -> bool:
        return self.token_hash is not None

    @property
    def is_open(self) -> bool:
        return not (self.accepted_at or self.declined_at or self.canceled_at)

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


# --- Account security (issue 19): sessions and the audit trail of /accounts/security/ ----------


class SignInSession(models.Model):
    """A signed-in browser: its session (in Django's session store), where it signed in from,
    and when it was last seen (refreshed at most once a minute, accounts/security.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_in_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.user} from {self.ip_address}"


class SecurityEvent(models.Model):
    """One line of an account's audit trail: a sign-in, or a change to how it signs in."""

    class Kind(models.TextChoices):
        SIGNED_IN = "signed_in", _("Signed in")
        SIGN_IN_FAILED = "sign_in_failed", _("Failed sign-in")
        PASSWORD_CHANGED = "password_changed", _("Password changed")
        PASSWORD_RESET = "password_reset", _("Password reset by email")
        EMAIL_VERIFIED = "email_verified", _("Email address verified")
        FACTOR_ADDED = "factor_added", _("Two-step factor added")
        FACTOR_REMOVED = "factor_removed", _("Two-step factor removed")
        RECOVERY_CODES_RENEWED = "recovery_codes_renewed", _("New recovery codes made")
        RECOVERY_CODE_USED = "recovery_code_used", _("Recovery code used")
        SIGNED_OUT_ELSEWHERE = "signed_out_elsewhere", _("Signed out everywhere else")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="security_events"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    # What it concerned, in words from a fixed set (a factor's type), never a secret.
    detail = models.CharField(max_length=100, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind}"
