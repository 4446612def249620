"""What a job card says: one sentence for the job's state, the vendor's own words where they
add something, and at most one note that the vendor may have charged (never for the demo)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from studio.engine import pacing
from studio.models import Generation
from studio.templatetags.studio import job_reason, vendor_label

S = Generation.Status
FREE_VENDORS = {"demo"}


@dataclass
class CardText:
    sentence: str
    detail: str = ""  # the vendor's own words, shown under the sentence
    charge: str = ""  # the one "may have charged" note, if any
    running_since: datetime | None = None
    expected_end: datetime | None = None


def charge_note(job: Generation) -> str:
    if job.vendor in FREE_VENDORS:
        return ""
    vendor = vendor_label(job.vendor)
    if job.in_flight:
        if job.submitted_at is None:
            return ""
        return _("Already sent: %(vendor)s may charge for it even if you cancel.") % {
            "vendor": vendor
        }
    if job.status == S.UNKNOWN_OUTCOME:
        return _(
            "If it did, %(vendor)s may have charged for it, and if you submit it again you may "
            "pay twice: check your account there first."
        ) % {"vendor": vendor}
    if job.may_have_charged:
        return _("%(vendor)s may have charged for this job.") % {"vendor": vendor}
    return ""


def sentence(job: Generation) -> str:
    vendor = {"vendor": vendor_label(job.vendor)}
    if job.status == S.QUEUED:
        if job.next_poll_at and job.next_poll_at > timezone.now():
            return _("Waiting for the rate limit of %(vendor)s before sending…") % vendor
        return _("Waiting for a worker…")
    if job.status == S.SUBMITTING:
        return _("Sending the request to %(vendor)s…") % vendor
    if job.status == S.RUNNING:
        return _("%(vendor)s is working on it…") % vendor
    if job.status == S.DOWNLOADING:
        return _("Saving the images…")
    if job.status == S.SUCCEEDED:
        return ""  # the images say it
    if job.status == S.UNKNOWN_OUTCOME:
        return _("We don't know whether %(vendor)s started this job.") % vendor
    if job.status == S.CANCELED:
        if job.may_have_charged:
            return _("Canceled after it was sent to %(vendor)s.") % vendor
        return _("Canceled before it was sent: nothing was charged.")
    if job.status == S.EXPIRED:
        if job.submitted_at is None:
            return _("It waited too long and was never sent: nothing was charged.")
        return _("%(vendor)s did not finish it in time, so the studio stopped waiting.") % vendor
    return str(job_reason(job.error_code))


def card_text(job: Generation) -> CardText:
    text = CardText(sentence(job), charge=charge_note(job))
    # The engine's message is worth showing where it carries the vendor's own reason (a
    # failure) or a note on a finished job; elsewhere the sentence above says it, and the
    # engine's wording would repeat the charge warning.
    if job.error_message and (
        (job.status == S.FAILED and not job.may_have_charged) or job.status == S.SUCCEEDED
    ):
        text.detail = job.error_message
    if job.status == S.RUNNING and job.running_at:
        text.running_since = job.running_at
        typical = pacing.typical_duration(job.vendor, job.model)
        if typical is not None:
            text.expected_end = job.running_at + timedelta(seconds=typical)
    return text
