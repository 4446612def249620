"""N jobs submitted at once against a budget that fits fewer: exactly as many are admitted as
fit, on SQLite and PostgreSQL (CI runs this module on both)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import Membership
from accounts.vault import add_credential
from studio.engine.services import create_generation
from studio.models import Generation
from studio.money import services
from studio.money.models import Budget, Reservation
from tests.money.conftest import KEY

pytestmark = pytest.mark.django_db(transaction=True)
N, FITS = 8, 3


def race(users, keys) -> list[str]:
    """Each user submits one job at the same moment, each in its own thread and connection,
    on the keys in turn."""
    barrier = threading.Barrier(len(users))
    outcomes: list[str] = []

    def submit(user, key):
        try:
            barrier.wait()
            create_generation(
                user, vendor="girlgenerator", credential=key, model="default", prompt="race"
            )
            outcomes.append("admitted")
        except ValidationError as error:
            outcomes.append(error.code or "invalid")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=submit, args=(u, keys[i % len(keys)])) for i, u in enumerate(users)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_only_the_jobs_that_fit_are_admitted(alice, key):
    # A budget on all of Alice's keys, each job on another key: only the budget's row lock
    # orders them (a job also locks its key's row, which would serialise jobs on one key).
    keys = [key] + [
        add_credential(alice, "girlgenerator", f"key {i}", f"{KEY}{i}") for i in range(N - 1)
    ]
    services.set_budget(Budget(scope="own", measure="images", limit=Decimal(FITS)), alice)
    outcomes = race([alice] * N, keys)
    assert sorted(outcomes) == ["admitted"] * FITS + ["budget"] * (N - FITS)
    assert Generation.objects.count() == FITS == Reservation.objects.count()


def test_members_racing_for_a_team_key_total(alice, key, team, shared, django_user_model):
    members = [django_user_model.objects.create_user(f"member{i}") for i in range(N)]
    Membership.objects.bulk_create([Membership(team=team, user=m) for m in members])
    services.set_budget(
        Budget(scope="key", credential=key, measure="images", limit=Decimal(FITS)), alice
    )
    outcomes = race(members, [key])
    assert outcomes.count("admitted") == FITS and outcomes.count("budget") == N - FITS
    assert Generation.objects.filter(credential=key).count() == FITS
