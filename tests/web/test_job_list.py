"""The jobs page (/jobs/): every job, filters by status, vendor and date, keyset paging, and
retry and dismiss that come back to the page."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from studio.models import Generation
from tests.web.conftest import HTMX, make_job

S = Generation.Status


def ids(response) -> list[int]:
    return [job.pk for job in response.context["jobs"]]


def test_it_lists_every_job_dismissed_and_ended_ones_too(alice_client, alice, bob):
    jobs = [make_job(alice, status=s) for s in S]
    Generation.objects.filter(pk=jobs[-1].pk).update(dismissed_at=timezone.now())
    make_job(bob, "bob's job")
    r = alice_client.get("/jobs/")
    assert r.status_code == 200
    assert sorted(ids(r)) == sorted(j.pk for j in jobs)
    assert b"bob&#x27;s job" not in r.content
    assert b"Dismissed from Generate." in r.content


def test_it_filters_by_status_vendor_and_date(alice_client, alice):
    failed = make_job(alice, status=S.FAILED, vendor="chatfire")
    unknown = make_job(alice, status=S.UNKNOWN_OUTCOME)
    running = make_job(alice, status=S.RUNNING)
    old = make_job(alice, status=S.SUCCEEDED, created_at=timezone.now() - timedelta(days=40))
    assert ids(alice_client.get("/jobs/?status=failed")) == [failed.pk]
    assert ids(alice_client.get("/jobs/?status=unknown_outcome")) == [unknown.pk]
    assert ids(alice_client.get("/jobs/?status=in_flight")) == [running.pk]
    assert ids(alice_client.get("/jobs/?vendor=chatfire")) == [failed.pk]
    day = (timezone.now() - timedelta(days=40)).date().isoformat()
    assert ids(alice_client.get(f"/jobs/?start={day}&end={day}")) == [old.pk]
    r = alice_client.get("/jobs/?vendor=chatfire")
    assert b'<option value="chatfire" selected>ChatFire</option>' in r.content
    assert b"No jobs match these filters." in alice_client.get("/jobs/?status=canceled").content


def test_it_pages_by_keyset_keeping_the_filters(alice_client, alice):
    now = timezone.now()
    jobs = [
        make_job(alice, status=S.FAILED, created_at=now - timedelta(minutes=i)) for i in range(30)
    ]
    make_job(alice, status=S.SUCCEEDED)  # filtered out on every page
    r = alice_client.get("/jobs/?status=failed")
    assert ids(r) == [j.pk for j in jobs[:25]]
    next_query = r.context["next_query"]
    assert "status=failed" in next_query and "after=" in next_query
    r = alice_client.get("/jobs/?" + next_query)
    assert ids(r) == [j.pk for j in jobs[25:]]
    assert r.context["next_query"] == ""
    assert b"Back to the newest" in r.content


def test_the_generate_page_links_to_it(alice_client, alice):
    r = alice_client.get("/")
    assert b'href="/jobs/">All jobs</a>' in r.content


def test_retry_from_the_jobs_page_comes_back_to_it(alice_client, alice):
    job = make_job(alice, status=S.FAILED)
    r = alice_client.post(f"/jobs/{job.pk}/retry/", {"next": "/jobs/?status=failed"})
    assert r.status_code == 302 and r.url == "/jobs/?status=failed"
    assert Generation.objects.filter(retry_of=job).count() == 1


def test_dismiss_on_the_jobs_page_keeps_the_card_marked(alice_client, alice):
    job = make_job(alice, status=S.FAILED)
    r = alice_client.post(
        f"/jobs/{job.pk}/dismiss/", HTTP_HX_CURRENT_URL="http://testserver/jobs/", **HTMX
    )
    job.refresh_from_db()
    assert job.dismissed_at is not None
    assert b"Dismissed from Generate." in r.content
    assert job.pk not in [j.pk for j in alice_client.get("/").context["jobs"]]
    assert job.pk in ids(alice_client.get("/jobs/"))


def test_a_next_elsewhere_is_ignored(alice_client, alice):
    job = make_job(alice, status=S.FAILED)
    r = alice_client.post(f"/jobs/{job.pk}/dismiss/", {"next": "//evil.example/jobs/"})
    assert r.url == "/"
    r = alice_client.post(f"/jobs/{job.pk}/retry/", {"next": "https://evil.example/jobs/"})
    assert r.url.startswith("/#job-")


def test_a_page_costs_the_same_queries_however_many_jobs(
    alice_client, alice, django_assert_max_num_queries
):
    for _ in range(30):
        make_job(alice, status=S.FAILED)
    with django_assert_max_num_queries(12):
        alice_client.get("/jobs/")


def test_older_jobs_in_progress_are_counted_and_linked_from_generate(alice_client, alice):
    now = timezone.now()
    old = [
        make_job(alice, status=S.RUNNING, created_at=now - timedelta(hours=1 + i)) for i in range(2)
    ]
    make_job(alice, status=S.FAILED, created_at=now - timedelta(hours=5))
    for _ in range(12):
        make_job(alice, status=S.SUCCEEDED)
    r = alice_client.get("/")
    assert not {job.pk for job in old} & {job.pk for job in r.context["jobs"]}
    assert b'<a href="/jobs/?status=in_flight">2 more jobs in progress</a>' in r.content
    r = alice_client.get("/jobs/?status=in_flight")
    assert ids(r) == [job.pk for job in old]
