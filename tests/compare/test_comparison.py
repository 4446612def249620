"""A comparison's page (/compare/<pk>/): columns that poll themselves, verdicts, blind mode,
re-runs, the list (/compare/), and sharing through a share link."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from studio.compare import services
from studio.compare.models import Comparison
from studio.models import CreditEntry, Generation
from studio.sharing import services as sharing
from studio.vendors import ADAPTERS
from tests.compare.conftest import finish, start, targets_of
from tests.web.conftest import HTMX


@pytest.fixture
def comparison(alice, keys):
    return start(
        alice,
        targets_of(
            alice,
            "demo:demo",
            f"{keys['aioagi'].pk}:gpt-image-2",
            f"{keys['lemondata'].pk}:dall-e-3",
        ),
    )


def columns(comparison) -> list:
    return list(comparison.columns.order_by("position").select_related("generation"))


def test_the_page_shows_a_column_per_target(alice_client, comparison):
    demo, aioagi, lemondata = columns(comparison)
    finish(
        aioagi,
        seconds=12.5,
        raw={
            "created_at": 1_700_000_000,
            "result": {"created": 1_700_000_009, "data": [{"url": "https://x/y.png"}]},
        },
    )
    finish(lemondata, seconds=4, raw={"data": [{"revised_prompt": "A tall lighthouse, fog."}]})
    CreditEntry.objects.create(
        owner=comparison.owner,
        generation=aioagi.generation,
        vendor="aioagi",
        kind="tokens",
        amount=Decimal(4160),
        unit="tokens",
    )
    r = alice_client.get(f"/compare/{comparison.pk}/")
    assert r.status_code == 200
    page = r.content.decode()
    assert page.count('class="card column') == 3
    assert "AIOAGI · gpt-image-2" in page and "LemonData · dall-e-3" in page
    assert "12.5 s" in page  # time to image
    assert "9.0 s" in page  # the vendor's own time: created_at → result.created
    assert "4,160 tokens" in page
    assert "A tall lighthouse, fog." in page
    # The demo is still queued: its column polls itself; finished ones do not.
    assert f'hx-get="/compare/{comparison.pk}/columns/{demo.pk}/?seen=queued-None"' in page
    assert f"/columns/{aioagi.pk}/?seen" not in page


def test_a_column_answers_204_until_its_job_changes(alice_client, comparison):
    demo = columns(comparison)[0]
    url = f"/compare/{comparison.pk}/columns/{demo.pk}/"
    assert alice_client.get(url + "?seen=queued-None", **HTMX).status_code == 204
    finish(demo)
    r = alice_client.get(url + "?seen=queued-None", **HTMX)
    assert r.status_code == 200
    assert 'class="badge status-succeeded"' in r.content.decode()
    assert "hx-trigger" not in r.content.decode()  # done: the column stops polling
    # Without htmx it is the comparison page.
    r = alice_client.get(url)
    assert r.status_code == 302 and r.url == f"/compare/{comparison.pk}/#column-{demo.pk}"


def test_winners_are_marked_with_a_note(alice_client, comparison):
    demo, aioagi, lemondata = columns(comparison)
    finish(demo)
    finish(aioagi)
    url = f"/compare/{comparison.pk}/verdict/"
    # A column without images cannot win.
    r = alice_client.post(url, {"winner": [demo.pk, lemondata.pk]})
    comparison.refresh_from_db()
    assert comparison.decided_at is None
    r = alice_client.post(url, {"winner": [demo.pk, aioagi.pk], "note": "crisper fog"})
    assert r.status_code == 302 and r.url == f"/compare/{comparison.pk}/#verdict"
    comparison.refresh_from_db()
    assert comparison.decided_at is not None and comparison.note == "crisper fog"
    assert [c.is_winner for c in columns(comparison)] == [True, True, False]
    page = alice_client.get(f"/compare/{comparison.pk}/").content.decode()
    assert "crisper fog" in page and page.count("winner-badge") == 2
    # Winners (or everything) go to a collection through sharing's own page.
    winner_images = [i.pk for c in (demo, aioagi) for i in c.generation.images.all()]
    assert "/collections/add/?" + "&amp;".join(f"image={i}" for i in winner_images) in page


@pytest.mark.parametrize("verdict", [False, True])
def test_blind_mode_names_no_vendor_or_model_until_a_winner(alice_client, alice, keys, verdict):
    comparison = start(
        alice,
        targets_of(
            alice,
            "demo:demo",
            f"{keys['aioagi'].pk}:gpt-image-2",
            f"{keys['chatfire'].pk}:seedream-3.0",
            f"{keys['lemondata'].pk}:dall-e-3",
        ),
        blind=True,
        prompt="a quiet harbour",
    )
    for column in columns(comparison):
        finish(column)
    names = ["demo", "Demo painter", "gpt-image-2", "GPT Image 2", "seedream", "dall-e-3"]
    names += [ADAPTERS[v].label for v in ("aioagi", "chatfire", "lemondata")]
    names += [str(k) for k in keys.values()]
    if verdict:
        first = columns(comparison)[0]
        alice_client.post(f"/compare/{comparison.pk}/verdict/", {"winner": first.pk})
    pages = [alice_client.get(f"/compare/{comparison.pk}/").content.decode()]
    for column in columns(comparison):
        url = f"/compare/{comparison.pk}/columns/{column.pk}/?seen=x"
        pages.append(alice_client.get(url, **HTMX).content.decode())
    pages.append(alice_client.get("/compare/").content.decode())
    html = "\n".join(pages)
    found = [name for name in names if re.search(re.escape(name), html, re.IGNORECASE)]
    if verdict:
        assert "AIOAGI · gpt-image-2" in html and "ChatFire · seedream-3.0" in html
    else:
        assert found == []
        assert ">A</h2>" in pages[0] and ">D</h2>" in pages[0]


def test_blind_columns_are_shuffled(alice, keys):
    targets = targets_of(
        alice,
        "demo:demo",
        f"{keys['aioagi'].pk}:gpt-image-2",
        f"{keys['chatfire'].pk}:seedream-3.0",
        f"{keys['lemondata'].pk}:dall-e-3",
    )
    orders = set()
    for _ in range(12):
        comparison = start(alice, targets, blind=True)
        orders.add(tuple(c.vendor for c in columns(comparison)))
    assert len(orders) > 1  # 12 shuffles of 4 columns all alike: 1 in 13,824^11


def test_a_column_or_the_whole_comparison_runs_again(alice_client, comparison):
    demo = columns(comparison)[0]
    from studio.engine.services import cancel_generation

    cancel_generation(demo.generation)
    old = demo.generation
    r = alice_client.post(f"/compare/{comparison.pk}/columns/{demo.pk}/rerun/", **HTMX)
    assert r.status_code == 200
    demo.refresh_from_db()
    assert demo.generation != old and demo.generation.retry_of == old
    assert Generation.objects.filter(pk=old.pk).exists()  # still in the gallery and ledger

    r = alice_client.post(f"/compare/{comparison.pk}/rerun/")
    again = Comparison.objects.exclude(pk=comparison.pk).get()
    assert r.status_code == 302 and r.url == f"/compare/{again.pk}/"
    assert [(c.vendor, c.model, c.generation.params) for c in columns(again)] == [
        (c.vendor, c.model, c.generation.params) for c in columns(comparison)
    ]


def test_a_decided_column_is_not_rerun_alone(alice_client, comparison):
    demo = columns(comparison)[0]
    finish(demo)
    alice_client.post(f"/compare/{comparison.pk}/verdict/", {"winner": demo.pk})
    r = alice_client.post(f"/compare/{comparison.pk}/columns/{demo.pk}/rerun/", **HTMX)
    assert "re-run the whole comparison instead" in r.content.decode()
    demo.refresh_from_db()
    assert Generation.objects.filter(owner=comparison.owner).count() == 3


def test_the_list_is_newest_first_searchable_and_paged(alice_client, alice):
    from studio.compare import views

    targets = targets_of(alice, "demo:demo", "demo:demo")
    made = [start(alice, targets, prompt=f"harbour {i}") for i in range(3)]
    made.append(start(alice, targets, prompt="a mountain"))
    views.PAGE_SIZE, size = 2, views.PAGE_SIZE
    try:
        r = alice_client.get("/compare/")
        assert [c.pk for c in r.context["comparisons"]] == [made[3].pk, made[2].pk]
        r = alice_client.get("/compare/", {"after": r.context["next_cursor"]})
        assert [c.pk for c in r.context["comparisons"]] == [made[1].pk, made[0].pk]
        r = alice_client.get("/compare/", {"q": "mountain"})
        assert [c.pk for c in r.context["comparisons"]] == [made[3].pk]
    finally:
        views.PAGE_SIZE = size


def test_a_share_link_shows_the_comparison_read_only(alice_client, alice, comparison):
    demo, aioagi, lemondata = columns(comparison)
    finish(demo)
    image = finish(aioagi).images.get()
    r = alice_client.post(
        f"/links/new/?comparison={comparison.pk}", {"audience": "anyone", "expires": "7"}
    )
    assert r.status_code == 200
    token = re.search(r"/s/([\w-]+)/", r.content.decode()).group(1)
    link = sharing.find_link(token)
    assert link.kind == "comparison" and link.comparison == comparison
    CreditEntry.objects.create(
        owner=alice,
        generation=aioagi.generation,
        vendor="aioagi",
        kind="tokens",
        amount=Decimal(999),
        unit="tokens",
    )

    stranger = Client()
    r = stranger.get(f"/s/{token}/")
    page = r.content.decode()
    assert r.status_code == 200 and r["Referrer-Policy"] == "no-referrer"
    assert r["X-Robots-Tag"] == "noindex, nofollow"
    assert "a lighthouse in fog" in page and page.count('class="card column') == 3
    assert "999" not in page and "aioagi key" not in page  # no spend, no key
    assert stranger.get(f"/s/{token}/i/{image.pk}/thumb/").status_code == 200
    other = finish(lemondata).images.get()
    assert stranger.get(f"/s/{token}/i/{other.pk}/").status_code == 200
    sharing.revoke_link(link)
    assert stranger.get(f"/s/{token}/").status_code == 404
    assert stranger.get(f"/s/{token}/i/{image.pk}/").status_code == 404


def test_a_blind_comparison_stays_blind_when_shared(alice, keys):
    comparison = start(
        alice,
        targets_of(alice, "demo:demo", f"{keys['aioagi'].pk}:gpt-image-2"),
        blind=True,
    )
    _link, token = sharing.create_link(
        alice, kind="comparison", comparison=comparison, audience="anyone"
    )
    page = Client().get(f"/s/{token}/").content.decode()
    assert "AIOAGI" not in page and "gpt-image-2" not in page


def test_a_link_shares_only_its_owners_comparison(bob, comparison):
    with pytest.raises(ValueError):
        sharing.create_link(bob, kind="comparison", comparison=comparison, audience="anyone")


def test_services_read_revised_prompts_and_vendor_times():
    assert services.revised_prompt({"data": [{"url": "u", "revised_prompt": "R"}]}) == "R"
    assert services.revised_prompt({"result": {"data": [{"revised_prompt": "S"}]}}) == "S"
    assert services.revised_prompt({"data": [{"revised_prompt": ""}]}) == ""
    assert services.revised_prompt(None) == ""
    iso = {"created_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:42Z"}
    assert services.vendor_seconds(iso) == 42
    assert services.vendor_seconds({"created_at": 100, "completed_at": 90}) is None
    assert services.vendor_seconds({"created": 100}) is None


def test_prompts_notes_and_revised_prompts_are_text(alice_client, alice, keys):
    from tests.web.test_escaping import HOSTILE, assert_inert

    comparison = start(
        alice, targets_of(alice, "demo:demo", f"{keys['aioagi'].pk}:gpt-image-2"), prompt=HOSTILE
    )
    finish(columns(comparison)[0], raw={"data": [{"revised_prompt": HOSTILE}]})
    first = columns(comparison)[0]
    alice_client.post(f"/compare/{comparison.pk}/verdict/", {"winner": first.pk, "note": HOSTILE})
    _link, token = sharing.create_link(
        alice, kind="comparison", comparison=comparison, audience="anyone"
    )
    for path, headers in (
        (f"/compare/{comparison.pk}/", {}),
        (f"/compare/{comparison.pk}/columns/{first.pk}/?seen=x", HTMX),
        ("/compare/", {}),
        (f"/s/{token}/", {}),
    ):
        r = alice_client.get(path, **headers)
        assert r.status_code == 200, path
        assert_inert(r.content)
