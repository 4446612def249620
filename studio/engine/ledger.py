"""The credits ledger: every spend signal a vendor gives becomes one append-only row."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.utils import timezone

from accounts.models import Credential
from studio.engine import enqueue, ratelimit
from studio.engine.vendorcall import connection_for, rate_limit_of, vendor_client
from studio.models import CreditEntry, Generation
from studio.money import services as money
from studio.vendors import get_adapter
from studio.vendors.base import Spend

log = logging.getLogger(__name__)


def record_spend(generation: Generation, spend: Spend | None) -> None:
    if spend is None:
        return
    entries = []
    common = {
        "owner_id": generation.owner_id,
        "credential_id": generation.credential_id,
        "generation": generation,
        "vendor": generation.vendor,
        "model": generation.model,
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
            model=generation.model,
            kind=CreditEntry.Kind.IMAGES,
            amount=count,
            unit="images",
        )
        money.price_entry(entry, generation)
        CreditEntry.objects.bulk_create([entry], ignore_conflicts=True)
    if count:
        refresh_balance_later(generation)


# Vendors whose balance is read by a free call (new-api billing; LemonData's management
# token). GirlGeneratorAI reports it in each submit reply (record_spend above).
BALANCE_READ_AFTER_JOB = {"aioagi", "chatbp", "lemondata"}


def refresh_balance_later(generation: Generation) -> None:
    """After a job that spent, the key's balance is read again in a task of its own."""
    if generation.vendor in BALANCE_READ_AFTER_JOB and generation.credential_id:
        enqueue.refresh_balance(generation.credential_id)


def refresh_balance(credential_id: int) -> bool:
    """Reads a key's balance with the vendor's free call, within the key's rate budget; a key
    that is busy or blocked keeps its older figure (the credits page says how old). True if
    the balance was updated."""
    credential = Credential.objects.usable().filter(pk=credential_id).first()
    if credential is None:
        return False
    if credential.vendor == "lemondata" and not credential.has_extra_secret:
        return False  # its inference key cannot read the balance
    adapter = get_adapter(credential.vendor, credential)
    bucket = f"{credential.vendor}:{credential.fingerprint}"
    if ratelimit.try_acquire(bucket, *rate_limit_of(adapter)):
        return False
    probe = Generation(vendor=credential.vendor, credential=credential)
    try:
        with vendor_client() as client, ratelimit.sending_for(bucket):
            result = adapter.verify(connection_for(probe, client))
    except Exception as exc:  # noqa: BLE001 - a balance is a nicety: never fail a task for it
        log.info("balance of credential %s not read: %s", credential_id, type(exc).__name__)
        return False
    if result.balance is None:
        return False
    now = timezone.now()
    return bool(
        Credential.objects.filter(pk=credential_id)
        .exclude(balance_at__gt=now)
        .update(balance=result.balance, balance_unit=(result.unit or "")[:40], balance_at=now)
    )
