"""The gallery and image pages cost the same number of queries for 10 images or 10,000."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from studio.models import CreditEntry, Generation, Image

# Session, user, the filter choices, one page of images with their jobs.
GALLERY_QUERIES = 5  # with the bulk form's collection choices
# On SQLite a search with a term of 3 characters or more first counts, up to a bound, how
# common its terms are in the whole studio (studio.web.search.common_terms).
SEARCH_COUNT = {"/gallery/?q=lighthouse"}
# Session, user, the image with its job and key, spend, other images of the job, references,
# the viewer's collections (the "add to collection" form).
IMAGE_QUERIES = 7


def fill(owner, count: int) -> list[Image]:
    now = timezone.now()
    vendors = ["demo", "girlgenerator", "lemondata"]
    jobs = Generation.objects.bulk_create(
        [
            Generation(
                owner=owner,
                vendor=vendors[i % 3],
                model=f"model-{i % 5}",
                prompt=f"prompt number {i} with a {'lighthouse' if i % 10 == 0 else 'meadow'}",
                status=Generation.Status.SUCCEEDED,
                deadline=now,
                created_at=now - timedelta(seconds=count - i),
            )
            for i in range(count)
        ],
        batch_size=1000,
    )
    CreditEntry.objects.bulk_create(
        [
            CreditEntry(
                owner=owner,
                generation=job,
                vendor=job.vendor,
                kind="images",
                amount=1,
                unit="images",
                created_at=job.created_at,
            )
            for job in jobs
        ],
        batch_size=1000,
    )
    return Image.objects.bulk_create(
        [
            Image(
                generation=job,
                owner=owner,
                file=f"images/{job.pk}.png",
                thumbnail=f"images/{job.pk}.webp",
                width=512,
                height=512,
                format="PNG",
                bytes=1000,
                sha256="0" * 64,
                created_at=job.created_at,
                favourite=i % 7 == 0,
            )
            for i, job in enumerate(jobs)
        ],
        batch_size=1000,
    )


PAGES = [
    "/gallery/",
    "/gallery/?q=lighthouse",
    "/gallery/?q=at",
    "/gallery/?vendor=lemondata&favourites=on",
    "/gallery/?model=model-3&start=2020-01-01",
]


def cursors(queries: CaptureQueriesContext) -> list[str]:
    """The queries that opened a server-side cursor (PostgreSQL): each costs three round trips
    (DECLARE, FETCH, CLOSE), as a form's ModelChoiceField did for its few choices."""
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DECLARE")]


@pytest.mark.parametrize("count", [10, 10_000])
def test_the_gallery_costs_the_same_at_any_size(alice_client, alice, count):
    images = fill(alice, count)
    deep = alice_client.get("/gallery/").context["next_query"]
    for path in [*PAGES, *([f"/gallery/?{deep}"] if deep else [])]:
        with CaptureQueriesContext(connection) as queries:
            r = alice_client.get(path)
        assert r.status_code == 200
        # An empty page has no bulk form, so no collection choices to read.
        expected = GALLERY_QUERIES if r.context["images"] else GALLERY_QUERIES - 1
        expected += path in SEARCH_COUNT and connection.vendor == "sqlite"
        assert len(queries) == expected, (path, [q["sql"] for q in queries])
        assert not cursors(queries), path
    assert len(images) == count


@pytest.mark.parametrize("count", [10, 10_000])
def test_the_image_page_costs_the_same_at_any_size(
    alice_client, alice, count, django_assert_num_queries
):
    images = fill(alice, count)
    with django_assert_num_queries(IMAGE_QUERIES) as queries:
        r = alice_client.get(f"/gallery/{images[count // 2].pk}/")
    assert r.status_code == 200
    assert not cursors(queries)


def test_the_money_page_reads_its_forms_choices_without_a_cursor(alice_client):
    """The budget and price forms' key choices (ChoiceOfField), as the gallery's."""
    with CaptureQueriesContext(connection) as queries:
        r = alice_client.get("/money/")
    assert r.status_code == 200 and "<select" in r.content.decode()
    assert not cursors(queries)


@pytest.mark.parametrize("count", [10, 10_000])
def test_the_credits_page_costs_the_same_at_any_size(
    alice_client, alice, count, django_assert_num_queries
):
    fill(alice, count)
    alice_client.get("/credits/")  # the first load after a month or a day ends rolls it up
    # Session, user, keys, one page of the ledger (its members are all alice); both charts,
    # from the daily roll-up's last day, its rolled days and the ledger's last two days; the
    # monthly roll-up's last month; each key's spend and the money totals, both from the
    # rolled months and the live month's rows.
    with django_assert_num_queries(10):
        r = alice_client.get("/credits/")
    assert r.status_code == 200


@pytest.mark.parametrize("teammates", [1, 3])
def test_team_keys_and_their_members_cost_the_same_in_any_number(
    alice_client, alice, teammates, django_assert_num_queries
):
    """Spend on teammates' keys (each named "team key of …") and teammates' spend on one's own
    key (each row named by member): one query for those keys with their owners and one for
    the members' names, however many."""
    from django.contrib.auth.models import User

    from accounts.vault import add_credential

    own = add_credential(alice, "girlgenerator", "own key", "sk-girl-0123456789")
    for n in range(teammates):
        mate = User.objects.create_user(f"mate{n}", f"mate{n}@example.com", "x" * 20)
        theirs = add_credential(mate, "lemondata", f"key of mate{n}", f"sk-lemon-{n}123456789")
        for owner, key in ((alice, theirs), (mate, own)):
            CreditEntry.objects.create(
                owner=owner, credential=key, vendor=key.vendor, kind="credits",
                amount=2, unit="credits", money=1, currency="USD",
            )  # fmt: skip
    alice_client.get("/credits/")  # the first load of a day rolls it up
    # The 10 of test_the_credits_page_costs_the_same_at_any_size, plus the teammates' keys with
    # their owners and the teammates' names.
    with django_assert_num_queries(12):
        r = alice_client.get("/credits/")
    content = r.content.decode()
    for n in range(teammates):
        assert f"team key of mate{n}" in content and f"<td>mate{n}</td>" in content
