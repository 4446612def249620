"""The credits ledger: every spend signal a vendor gives becomes one append-only row."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from accounts.models import Credential
from studio.models import CreditEntry, Generation
from studio.money import services as money
from studio.vendors.base import Spend


def record_spend(generation: Generation, spend: Spend | None) -> None:
    if spend is None:
        return
    entries = []
    common = {
        "owner_id": generation.owner_id,
        "credential_id": generation.credential_id,
        "generation": generation,
        "vendor": generation.vendor,
    }
    if spend.credits_used is not None:
        entries.append(
            CreditEntry(
                kind=CreditEntry.Kind.CREDITS,
                amount=spend.credits_used,
                unit="credits",
                balance_after=spend.credits_remaining,
                **common,
            )
        )
    if spend.tokens:
        total = spend.tokens.get("total_tokens")
        if total is None:
            total = (spend.tokens.get("input_tokens") or 0) + (
                spend.tokens.get("output_tokens") or 0
            )
        entries.append(
            CreditEntry(
                kind=CreditEntry.Kind.TOKENS,
                amount=Decimal(total),
                unit="tokens",
                raw=spend.tokens,
                **common,
            )
        )
    for entry in entries:
        money.price_entry(entry, generation)
    # The unique (generation, kind) constraint makes a repeated poll or task a no-op.
    CreditEntry.objects.bulk_create(entries, ignore_conflicts=True)
    if spend.credits_remaining is not None and generation.credential_id:
        # The vendor's own figure is the balance shown; older replies must not overwrite newer.
        now = timezone.now()
        Credential.objects.filter(pk=generation.credential_id).exclude(balance_at__gt=now).update(
            balance=spend.credits_remaining, balance_unit="credits", balance_at=now
        )


def record_images(generation: Generation, count: int) -> None:
    """For vendors that report no spend at all, the images produced are the spend signal."""
    reported = CreditEntry.objects.filter(
        generation=generation, kind__in=[CreditEntry.Kind.CREDITS, CreditEntry.Kind.TOKENS]
    )
    if count and not reported.exists():
        entry = CreditEntry(
            owner_id=generation.owner_id,
            credential_id=generation.credential_id,
            generation=generation,
            vendor=generation.vendor,
            kind=CreditEntry.Kind.IMAGES,
            amount=count,
            unit="images",
        )
        money.price_entry(entry, generation)
        CreditEntry.objects.bulk_create([entry], ignore_conflicts=True)
