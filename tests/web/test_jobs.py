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
    Generation.objects.filter(pk=job.pk).update(vendor="girlgenerator")
    r = card(alice_client, job)
    assert b'<progress max="100" value="42"' in r.content
    assert b"Already sent: GirlGeneratorAI may charge for it even if you cancel." in r.content


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
    Generation.objects.filter(pk=job.pk).update(vendor="girlgenerator")
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
    Generation.objects.filter(pk=job.pk).update(vendor="girlgenerator")
    r = alice_client.post(f"/jobs/{job.pk}/cancel/")
    job.refresh_from_db()
    assert r.status_code == 302
    assert job.status == S.CANCELED and job.may_have_charged
    r = card(alice_client, job)
    assert b"GirlGeneratorAI may have charged for this job." in r.content


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


# --- What a card says (issue 17, item 8) ------------------------------------------------------


def charge_mentions(html: bytes) -> int:
    return html.decode().lower().count("may have charged") + html.decode().lower().count(
        "may charge"
    )


@pytest.mark.parametrize(
    ("status", "fields"),
    [
        (S.UNKNOWN_OUTCOME, {"error_code": "vendor_unavailable"}),
        (S.EXPIRED, {"submitted_at": timezone.now()}),
        (S.CANCELED, {"submitted_at": timezone.now()}),
        (S.FAILED, {"error_code": "result_lost"}),
        (S.RUNNING, {"submitted_at": timezone.now()}),
    ],
)
def test_it_says_the_vendor_may_have_charged_once(alice_client, alice, status, fields):
    from accounts.vault import add_credential

    key = add_credential(alice, "chatfire", "paid", "sk-cards-0123456789")
    job = make_job(alice, status=status, **fields)
    Generation.objects.filter(pk=job.pk).update(
        vendor="chatfire",
        credential=key,
        may_have_charged=True,
        # What the engine writes: its own warning, which the card must not repeat.
        error_message="ChatFire had a server error (HTTP 500) while taking the request. It may "
        "still have generated, and charged for, the images. The vendor may have received the "
        "request and charged for it.",
    )
    r = card(alice_client, job)
    assert charge_mentions(r.content) == 1, r.content.decode()


@pytest.mark.parametrize("status", [S.UNKNOWN_OUTCOME, S.EXPIRED, S.CANCELED, S.RUNNING])
def test_it_never_says_the_demo_may_have_charged(alice_client, alice, status):
    job = make_job(
        alice,
        status=status,
        may_have_charged=True,
        submitted_at=timezone.now(),
        error_message="The vendor may have received the request and charged for it.",
    )
    r = card(alice_client, job)
    assert charge_mentions(r.content) == 0
    assert b"charged" not in r.content


def test_a_vendor_500_on_submit_reads_plainly(alice_client, alice):
    job = make_job(alice, status=S.UNKNOWN_OUTCOME, error_code="vendor_unavailable")
    Generation.objects.filter(pk=job.pk).update(vendor="chatfire", may_have_charged=True)
    r = card(alice_client, job)
    assert b"We don&#x27;t know whether ChatFire started this job." in r.content
    assert b"Submit again (may pay twice)" in r.content


@pytest.mark.parametrize(
    ("status", "fields", "text"),
    [
        (S.QUEUED, {}, "Waiting for a worker"),
        (S.SUBMITTING, {}, "Sending the request to"),
        (S.RUNNING, {}, "is working on it"),
        (S.DOWNLOADING, {}, "Saving the images"),
        (S.CANCELED, {}, "Canceled before it was sent: nothing was charged."),
        (S.EXPIRED, {}, "never sent: nothing was charged."),
        (S.FAILED, {"error_code": "content_policy"}, "refused the prompt"),
    ],
)
def test_one_sentence_per_state(alice_client, alice, status, fields, text):
    job = make_job(alice, status=status, **fields)
    r = card(alice_client, job)
    assert r.content.decode().count('class="job-sentence') == 1
    assert text in r.content.decode()


def test_a_failure_shows_the_vendors_own_words(alice_client, alice):
    job = make_job(
        alice, status=S.FAILED, error_code="invalid_params", error_message="size must be 1:1"
    )
    r = card(alice_client, job)
    assert b"size must be 1:1" in r.content


def test_a_running_job_shows_elapsed_time_and_an_eta_from_recent_jobs(alice_client, alice):
    from datetime import timedelta

    from studio.engine import pacing

    started = timezone.now() - timedelta(seconds=20)
    job = make_job(alice, status=S.RUNNING, running_at=started)
    r = card(alice_client, job)
    assert b"data-clock-since=" in r.content and b"Elapsed: " in r.content
    assert b"data-clock-until" not in r.content  # no history yet: no guess
    for seconds in (40, 50, 60, 70, 80):
        pacing.record_duration("demo", "demo", seconds)
    r = card(alice_client, job)
    # The median of recent jobs is 60 s and 20 have passed: about 40 s left.
    assert b">0:40</span> left" in r.content or b">0:39</span> left" in r.content


def test_the_card_speaks_chinese(alice_client, alice):
    job = make_job(alice, status=S.UNKNOWN_OUTCOME, error_code="vendor_unavailable")
    Generation.objects.filter(pk=job.pk).update(vendor="chatfire", may_have_charged=True)
    r = alice_client.get(f"/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans", **HTMX)
    text = r.content.decode()
    assert "我们无法确定 ChatFire 是否已开始此任务。" in text
    assert text.count("可能已经收费") == 1
