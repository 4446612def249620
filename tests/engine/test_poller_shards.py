"""Polling in parallel: shards of jobs by key, each held by one pass at a time under a lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_q.models import OrmQ

from accounts.vault import add_credential, fingerprint
from studio.engine import jobs
from studio.engine.enqueue import wake_poller
from studio.engine.poller import (
    IN_PROGRESS,
    balance_shards,
    ensure_shard_leases,
    poll_due_generations,
    take_pass,
)
from studio.engine.services import create_generation
from studio.models import Generation, Lease, shard_of

pytestmark = pytest.mark.django_db(transaction=True)
Status = Generation.Status


def held_by(holder: str) -> set[int]:
    leases = Lease.objects.filter(
        name__startswith="poller:", holder=holder, expires_at__gt=timezone.now()
    )
    return {int(name.split(":")[1]) for name in leases.values_list("name", flat=True)}


def die(holder: str) -> None:
    """What a killed pass leaves: leases nobody renews, run out."""
    Lease.objects.filter(holder=holder).update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def two_pollers(settings):
    settings.STUDIO_POLLERS = 2
    settings.STUDIO_POLL_SHARDS = 16
    ensure_shard_leases()


def test_a_second_pass_gets_half_the_shards_and_none_the_first_still_holds(two_pollers):
    assert take_pass("a", 30)
    assert balance_shards("a", 30) == list(range(16))  # alone: every shard
    assert take_pass("b", 30)
    assert take_pass("c", 30) is None  # no more passes than STUDIO_POLLERS
    # b counts itself: its share is 8, but every shard is a's until a gives some back.
    assert balance_shards("b", 30) == []
    assert len(balance_shards("a", 30)) == 8  # a sees b and gives back its extras
    assert len(balance_shards("b", 30)) == 8
    assert held_by("a").isdisjoint(held_by("b"))
    assert held_by("a") | held_by("b") == set(range(16))
    # Renewing changes nothing once balanced.
    assert set(balance_shards("a", 30)) == held_by("a")
    assert len(held_by("a")) == len(held_by("b")) == 8


def test_a_dead_pass_shards_move_to_the_survivor_when_its_leases_run_out(two_pollers):
    take_pass("a", 30)
    balance_shards("a", 30)
    take_pass("b", 30)
    balance_shards("b", 30)
    balance_shards("a", 30)
    balance_shards("b", 30)
    assert len(held_by("a")) == len(held_by("b")) == 8
    before = held_by("a")
    # b's leases have not run out yet: a cannot take its shards, however many it wants.
    assert set(balance_shards("a", 30)) == before
    die("b")
    assert balance_shards("a", 30) == list(range(16))
    assert held_by("b") == set()
    # A pass started later (b's successor) gets its share back from a.
    assert take_pass("b2", 30)
    balance_shards("b2", 30)
    balance_shards("a", 30)
    assert len(balance_shards("b2", 30)) == 8


def keys_in_shards(alice, fake, count: int) -> list:
    """Credentials of `count` different keys, added to the fake vendor."""
    creds = []
    for n in range(count):
        key = f"sk-shard-test-{n:04d}-abcdefgh"
        fake.add_key(key)
        creds.append(add_credential(alice, "chatbp", f"key {n}", key))
    return creds


def keys_in_both_halves(alice, fake) -> list:
    """Credentials of at least three keys in shards 0-7 and three in 8-15. Fingerprints depend
    on the vault key, which is random per checkout, so the keys are picked, not assumed."""
    halves: dict[bool, list[str]] = {False: [], True: []}
    n = 0
    while min(len(keys) for keys in halves.values()) < 3:
        key = f"sk-shard-test-{n:04d}-abcdefgh"
        halves[shard_of(f"chatbp:{fingerprint(key)}") >= 8].append(key)
        n += 1
    creds = []
    for n, key in enumerate([*halves[False][:3], *halves[True][:3]]):
        fake.add_key(key)
        creds.append(add_credential(alice, "chatbp", f"key {n}", key))
    return creds


def test_one_key_jobs_are_all_in_one_shard_and_keys_spread_over_shards(alice, start_fake):
    fake = start_fake("chatbp")
    creds = keys_in_shards(alice, fake, 8)
    same_key_again = add_credential(alice, "chatbp", "key 0 again", "sk-shard-test-0000-abcdefgh")
    shards = {}
    for cred in [*creds, same_key_again]:
        for n in range(3):
            generation = create_generation(
                alice, vendor="chatbp", credential=cred, model="dall-e-3", prompt=f"job {n}"
            )
            shards.setdefault(cred.fingerprint, set()).add(generation.shard)
    assert all(len(found) == 1 for found in shards.values()), shards
    assert len(shards) == 8  # the second row of key 0 shares its fingerprint, and its shard
    assert len(set().union(*shards.values())) > 1, "eight keys, one shard"


def test_a_pass_polls_only_the_jobs_of_the_shards_it_holds(alice, start_fake, two_pollers):
    fake = start_fake("chatbp", pending_s=0.1, processing_s=0.1)
    # Another pass holds the first half of the shards (and a pass lease: it is alive).
    assert take_pass("other", 30)
    assert balance_shards("other", 30) == list(range(16))
    # Its share drops to 8 once this test's pass runs; it gives back 8..15 on its own next
    # loop, which here is this call.
    Lease.objects.filter(name__in=[f"poller:{n}" for n in range(8, 16)]).update(
        expires_at=timezone.now(), holder=""
    )
    generations = []
    for cred in keys_in_both_halves(alice, fake):
        generation = create_generation(
            alice, vendor="chatbp", credential=cred, model="dall-e-3", prompt="x"
        )
        jobs.submit(generation.pk)
        generations.append(generation)
    mine = [g for g in generations if g.shard >= 8]
    theirs = [g for g in generations if g.shard < 8]
    assert len(mine) >= 3 and len(theirs) >= 3
    poll_due_generations(pass_seconds=1.5)
    for generation in generations:
        generation.refresh_from_db()
    assert all(g.polls >= 1 for g in mine)
    assert all(g.polls == 0 and g.status == Status.RUNNING for g in theirs)
    assert held_by("other") == set(range(8))  # the pass never took a live lease


def test_polls_a_dead_pass_had_claimed_are_due_again_when_its_shard_moves(alice, two_pollers):
    take_pass("a", 30)
    balance_shards("a", 30)
    now = timezone.now()
    claimed = create_generation(alice, vendor="demo", model="demo", prompt="claimed")
    waiting = create_generation(alice, vendor="demo", model="demo", prompt="waiting")
    # a claimed one for a poll (pushed IN_PROGRESS ahead) and died mid-request; the other job
    # waits for its next poll in a few seconds, as the vendor asked.
    Generation.objects.filter(pk=claimed.pk).update(
        status=Status.RUNNING, next_poll_at=now + IN_PROGRESS
    )
    Generation.objects.filter(pk=waiting.pk).update(
        status=Status.RUNNING, next_poll_at=now + timedelta(seconds=5)
    )
    die("a")
    take_pass("b", 30)
    assert claimed.shard in balance_shards("b", 30)
    claimed.refresh_from_db()
    waiting.refresh_from_db()
    assert claimed.next_poll_at <= timezone.now()
    assert waiting.next_poll_at == now + timedelta(seconds=5)


def queued_passes() -> int:
    return sum(
        1
        for task in OrmQ.objects.all()
        if task.func() == "studio.engine.tasks.poll_due_generations"
    )


def test_waking_asks_for_the_missing_passes_and_not_once_per_call(two_pollers):
    OrmQ.objects.all().delete()
    wake_poller()
    assert queued_passes() == 2  # none running: both at once
    take_pass("a", 30)
    OrmQ.objects.all().delete()
    wake_poller()
    wake_poller()  # a burst of submits, each waking the poller
    assert queued_passes() == 1
    take_pass("b", 30)
    cache.clear()
    wake_poller()
    assert queued_passes() == 1  # both running: nothing more
