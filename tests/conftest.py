from __future__ import annotations

import pytest
from django.contrib.auth.models import User


def verified_user(username: str, email: str, password: str) -> User:
    """A user whose address is verified, as every account that uses teams must have."""
    from allauth.account.models import EmailAddress

    user = User.objects.create_user(username, email, password)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


@pytest.fixture
def alice(db) -> User:
    return verified_user("alice", "alice@example.com", "correct horse battery")


@pytest.fixture
def bob(db) -> User:
    return verified_user("bob", "bob@example.com", "another good passphrase")


@pytest.fixture
def carol(db) -> User:
    return verified_user("carol", "carol@example.com", "yet another passphrase")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A real queue worker on the test database; the test starts it (and may kill it)."""
    from tests.worker import Worker

    log_dir = tmp_path / "worker-logs"
    log_dir.mkdir()
    process = Worker(log_dir)
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """Django's advice for test speed: PBKDF2's million rounds took 0.4–0.8 s per user created
    or signed in on CI's machines. Tests that start real servers (marked slow) keep the
    production hashers: those processes read the settings module, where MD5 is not allowed."""
    if request.node.get_closest_marker("slow") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A test that activates a language (directly, or through a request to a view that does)
    must not leave it active for the next: messages would come out translated."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def _empty_cache_after_transactional_tests(request, django_db_blocker):
    """The cache is a database table that a transactional test's flush does not empty: what one
    test left there (the pacing samples that set a job's first poll, worker heartbeats) must not
    steer the next. Tests in a rolled-back transaction leave nothing behind."""
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker and marker.kwargs.get("transaction")) or {
        "transactional_db",
        "live_server",
        "worker",
    } & set(request.fixturenames)
    if transactional:
        from django.conf import settings
        from django.core.cache import cache

        with django_db_blocker.unblock():
            cache.clear()
        if "redis" in settings.Q_CLUSTER:
            # Nor is a Redis queue: tasks a test left must not reach the next test's worker.
            from django_q.brokers import get_broker

            get_broker().purge_queue()


def pytest_collection_modifyitems(items):
    # Every test that drives a browser is marked e2e, wherever it lives, so CI can run the
    # browser tests once (on SQLite) and leave them out of the PostgreSQL pass: they test
    # pages, not the database.
    for item in items:
        if {"browser", "page"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
