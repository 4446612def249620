from __future__ import annotations

import pytest

from accounts import membership as teams
from accounts.models import Membership
from accounts.vault import add_credential
from studio.money import services
from tests.engine.conftest import start_fake  # noqa: F401 - the fake vendors, for balances

KEY = "sk-money-5d1e8b27c9f4a3"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def team(alice, bob):
    """Alice owns "Studio A"; Bob is a member; Carol is in no team."""
    team = teams.create_team(alice, "Studio A")
    Membership.objects.create(team=team, user=bob)
    return team


@pytest.fixture
def key(alice):
    return add_credential(alice, "girlgenerator", "studio key", KEY)


@pytest.fixture
def shared(key, team, alice):
    return services.share_key(key, team, alice)
