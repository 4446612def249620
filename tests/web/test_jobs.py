"""Job cards: they poll while the job is in flight, explain how it ended, and offer actions."""

from __future__ import annotations

import pytest
from django.utils import timezone

from studio.models import Generation
from tests.web.conftest import HTMX, make_image, make_job

S = Generation.Status


def card(client, job, **headers):
    return client.get(f"/jobs/{job.pk}/", **(headers or HTMX))


@pytest.mark.parametrize("status", [S.QUEUED, S.SUBMITTING, S.RUNNING, S.DOWNLOADING])
def test_it_polls_while_the_job_is_in_flight(alice_client, alice, status):
    job = make_job(alice, status=status)
    r = card(alice_client, job)
    assert r.status_code == 200
    assert b"<html" not in r.content
    assert b'hx-trigger="every 2s"' in r.content
    assert b"Cancel</button>" in r.content


@pytest.mark.parametrize("status", Generation.ENDED)
def test_it_stops_polling_when_the_job_ends(alice_client, alice, status):
    job = make_job(alice, status=status)
    r = card(alice_client, job)
    assert b"hx-trigger" not in r.content
    assert b"Cancel</button>" not in r.content


def test_a_poll_that_sees_nothing_new_swaps_nothing(alice_client, alice):
    job = make_job(alice, status=S.RUNNING, progress=10)
    r = card(alice_client, job)
    assert f'hx-get="/jobs/{job.pk}/?seen=running-10"'.encode() in r.content
    r = alice_client.get(f"/jobs/{job.pk}/?seen=running-10", **HTMX)
    assert r.status_code == 204
    Generation.objects.filter(pk=job.pk).update(progress=55)
    r = alice_client.get(f"/jobs/{job.pk}/?seen=running-10", **HTMX)
    assert r.status_code == 200 and b'value="55"' in r.content


def test_it_shows_the_vendors_progress(alice_client, alice):
    job = make_job(alice, status=S.RUNNING, progress=42, submitted_at=timezone.now())
    r = card(alice_client, job)
    assert b'<progress max="100" value="42"' in r.content
    assert b"the vendor may still charge for it" in r.content


def test_a_finished_job_shows_its_thumbnails(alice_client, alice):
    image = make_image(alice)
    r = card(alice_client, image.generation)
    assert f'src="/images/{image.pk}/thumbnail/"'.encode() in r.content
    assert b'alt="a lighthouse at dusk"' in r.content


def test_a_failure_gives_the_reason_and_the_ways_on(alice_client, alice):
    job = make_job(
        alice,
        status=S.FAILED,
        error_code="content_policy",
        error_message="Demo refused the request under its content policy.",
    )
    r = card(alice_client, job)
    assert b"The vendor refused the prompt under its content policy." in r.content
    assert b"Demo refused the request" in r.content
    assert f"/jobs/{job.pk}/retry/".encode() in r.content
    assert f'href="/?from={job.pk}"'.encode() in r.content
    assert f"/jobs/{job.pk}/dismiss/".encode() in r.content


def test_an_unknown_outcome_warns_about_paying_twice(alice_client, alice):
    job = make_job(alice, status=S.UNKNOWN_OUTCOME, error_code="unknown_outcome")
    r = card(alice_client, job)
    assert b"you may pay twice" in r.content
    assert b"Submit again (may pay twice)" in r.content


def test_cancel_stops_a_queued_job(alice_client, alice):
    job = make_job(alice)
    r = alice_client.post(f"/jobs/{job.pk}/cancel/", **HTMX)
    job.refresh_from_db()
    assert job.status == S.CANCELED and not job.may_have_charged
    assert b"hx-trigger" not in r.content


def test_cancel_of_a_sent_job_says_the_vendor_may_charge(alice_client, alice):
    job = make_job(alice, status=S.RUNNING, submitted_at=timezone.now())
    r = alice_client.post(f"/jobs/{job.pk}/cancel/")
    job.refresh_from_db()
    assert r.status_code == 302
    assert job.status == S.CANCELED and job.may_have_charged
    r = card(alice_client, job)
    assert b"the vendor may still charge for it" in r.content


def test_retry_queues_a_new_job_in_the_old_ones_place(alice_client, alice):
    job = make_job(alice, "try again", status=S.FAILED, error_code="vendor_unavailable")
    r = alice_client.post(f"/jobs/{job.pk}/retry/", **HTMX)
    new = Generation.objects.exclude(pk=job.pk).get()
    job.refresh_from_db()
    assert (new.retry_of, new.prompt, new.status) == (job, "try again", S.QUEUED)
    assert job.dismissed_at is not None
    assert f'id="job-{new.pk}"'.encode() in r.content


def test_retry_of_a_job_in_flight_is_refused(alice_client, alice):
    job = make_job(alice, status=S.RUNNING)
    r = alice_client.post(f"/jobs/{job.pk}/retry/", **HTMX)
    assert b"still in progress" in r.content
    assert Generation.objects.count() == 1


def test_dismiss_removes_the_card(alice_client, alice):
    job = make_job(alice, status=S.FAILED)
    r = alice_client.post(f"/jobs/{job.pk}/dismiss/", **HTMX)
    assert r.status_code == 200 and r.content == b""
    job.refresh_from_db()
    assert job.dismissed_at is not None
    r = alice_client.post(f"/jobs/{job.pk}/dismiss/")
    assert r.status_code == 302


def test_a_job_in_flight_cannot_be_dismissed(alice_client, alice):
    job = make_job(alice)
    r = alice_client.post(f"/jobs/{job.pk}/dismiss/", **HTMX)
    assert b"Cancel the job before you dismiss it." in r.content
    job.refresh_from_db()
    assert job.dismissed_at is None


def test_without_htmx_the_card_is_a_page(alice_client, alice):
    job = make_job(alice)
    r = alice_client.get(f"/jobs/{job.pk}/")
    assert b"<html" in r.content and f'id="job-{job.pk}"'.encode() in r.content


def test_someone_elses_job_is_not_found(alice_client, bob):
    job = make_job(bob)
    assert alice_client.get(f"/jobs/{job.pk}/").status_code == 404
    for action in ("cancel", "retry", "dismiss"):
        assert alice_client.post(f"/jobs/{job.pk}/{action}/").status_code == 404
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.dismissed_at is None
