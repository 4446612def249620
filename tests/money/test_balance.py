"""Through the real engine and fake vendors: fresh balances (after a job on a vendor whose
balance a free call reads, the key's last known balance is read again), and a limit in vendor
credits that holds the documented most and settles to what the vendor charged."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from accounts.models import Credential
from studio.engine import ledger
from studio.engine.services import create_generation
from tests.engine.conftest import KEY, credential, drive, engine_settings  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_balance_is_read_again_after_each_job(alice, start_fake):
    fake = start_fake("aioagi", credits=100)
    key = credential(alice, "aioagi")
    job = create_generation(
        alice,
        vendor="aioagi",
        credential=key,
        model="gpt-image-2",
        prompt="a fresh balance",
        params={"size": "1024x1024"},
    )
    drive(job)
    queued = [t.task for t in OrmQ.objects.all()]
    assert f"balance {key.pk}" in [t["name"] for t in queued]
    key.refresh_from_db()
    assert key.balance is None  # not read yet: the task does it
    assert ledger.refresh_balance(key.pk)
    key.refresh_from_db()
    spent = 100 - fake.keys[KEY].credits
    assert spent > 0 and key.balance == Decimal(100) - Decimal(str(spent))
    assert key.balance_at is not None


def test_a_vendor_without_a_free_balance_call_is_left_alone(alice, start_fake):
    start_fake("lemondata")
    key = credential(alice, "lemondata")  # no management token: no balance to read
    assert not ledger.refresh_balance(key.pk)
    assert Credential.objects.get(pk=key.pk).balance is None


def test_a_credits_limit_holds_the_documented_most_then_settles_to_what_was_charged(
    alice, start_fake
):
    """GirlGeneratorAI documents 1–3 credits an image: 3 are held until the vendor says."""
    from django.core.exceptions import ValidationError

    from studio.money import services
    from studio.money.models import Budget, Reservation

    fake = start_fake("girlgenerator", credits=100)
    key = credential(alice, "girlgenerator")
    services.set_budget(Budget(scope="own", measure="credits", limit=Decimal(5)), alice)
    job = {"vendor": "girlgenerator", "credential": key, "model": "default", "prompt": "p"}
    first = create_generation(alice, **job)
    with pytest.raises(ValidationError) as refused:
        create_generation(alice, **job)  # 3 held + 3 more would pass 5
    assert "2 credits left" in refused.value.messages[0]
    assert "needs 3 credits" in refused.value.messages[0]
    drive(first)
    charged = 100 - fake.keys[KEY].credits
    assert 1 <= charged <= 3
    # Settled as soon as the job's ledger rows were written, before any budget is read again.
    assert Reservation.objects.get(generation=first).spent == charged
    create_generation(alice, **job)  # the first now counts what it cost
    assert Reservation.objects.get(generation=first).spent == charged


def test_the_balance_is_read_at_most_once_a_minute_per_key(alice, start_fake):
    """A burst of jobs on one key: one read at once, one more for the rest of the burst once
    its minute is over, and none in between."""
    from django.core.cache import cache
    from django_q.models import Schedule

    from studio.models import Generation

    fake = start_fake("aioagi", credits=100)
    key = credential(alice, "aioagi")
    other = credential(alice, "lemondata", "sk-another-key-0011223344")
    jobs = [Generation(vendor="aioagi", credential=key) for _ in range(3)]
    for job in jobs:
        ledger.refresh_balance_later(job)
    ledger.refresh_balance_later(Generation(vendor="lemondata", credential=other))

    def queued() -> list[str]:
        return sorted(t.task["name"] for t in OrmQ.objects.all())

    assert queued() == sorted([f"balance {key.pk}", f"balance {other.pk}"])
    # The migrations' own schedules are there unless an earlier test flushed the database.
    deferred = Schedule.objects.filter(func="studio.engine.ledger.refresh_balance_after_burst")
    later = deferred.get()  # the burst's second and third jobs: one read, deferred
    assert later.args == f"({key.pk},)"
    wait = (later.next_run - timezone.now()).total_seconds()
    assert ledger.BALANCE_READ_EVERY - 5 < wait <= ledger.BALANCE_READ_EVERY
    # The minute is over (the first read's cache entry expired) but the deferred read is still
    # to come: a new job waits for it rather than reading now.
    cache.delete(f"balance-read:{key.pk}")
    ledger.refresh_balance_later(jobs[0])
    assert queued().count(f"balance {key.pk}") == 1 and deferred.count() == 1
    # The deferred read runs: it reads the balance and starts the key's next quiet minute.
    fake.keys[KEY].credits = 90
    assert ledger.refresh_balance_after_burst(key.pk)
    assert Credential.objects.get(pk=key.pk).balance == Decimal(90)
    ledger.refresh_balance_later(jobs[0])
    assert queued().count(f"balance {key.pk}") == 1  # still within that minute: deferred
    assert deferred.count() == 2
