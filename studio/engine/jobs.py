"""What happens to one generation: submit, poll, store its images.

Every state change is a conditional UPDATE (`… WHERE status = <expected>`), so two processes
acting on the same job (a redelivered task, the recovery sweep, a cancel from the web) cannot
both win: the loser sees zero rows updated and stops. The paid POST is sent only by the process
that moved the job from `queued` to `submitting`, and never again once `submitted_at` is set.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from django.conf import settings
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from accounts.models import Credential, record_event
from accounts.vault import VaultError
from studio.engine import enqueue, ledger, pacing, ratelimit
from studio.engine.references import reference_for_vendor
from studio.engine.state import fail, update
from studio.engine.store import finish_download, hand_over
from studio.engine.vendorcall import (
    bucket_for,
    connection_for,
    rate_limit_of,
    vendor_client,
)
from studio.models import Generation
from studio.money import services as money
from studio.vendors import get_adapter
from studio.vendors.base import (
    Accepted,
    ErrorCode,
    Failed,
    Finished,
    GenerationRequest,
    Reference,
    Running,
)

log = logging.getLogger(__name__)
Status = Generation.Status

SUBMIT_LEASE = timedelta(seconds=300)
# A queued job's submit task should start within this time; past it, recovery enqueues another
# (a duplicate is harmless: only one can claim the job).
QUEUE_GRACE = timedelta(minutes=5)
MAX_SUBMIT_ATTEMPTS = 3


def build_request(generation: Generation) -> GenerationRequest:
    refs: list[Reference] = [reference_for_vendor(r) for r in generation.references.all()]
    if generation.mask is not None:
        refs.append(reference_for_vendor(generation.mask, role="mask"))
    return GenerationRequest(
        scene=generation.scene,
        model=generation.model,
        prompt=generation.prompt,
        params=generation.params,
        references=refs,
    )


def credential_problem(generation: Generation) -> str | None:
    if generation.vendor == "demo":
        return None
    credential = generation.credential
    if credential is None:
        return "The key for this job was deleted before it could be sent."
    if credential.is_revoked:
        record_event(credential, "used_after_revocation", f"job {generation.pk}")
        return "The key for this job was revoked before it could be sent."
    return None


# --- submit ---------------------------------------------------------------------------------


def submit(generation_id: int) -> None:
    now = timezone.now()
    # The lease ends at the deadline at the latest: recovery must not wait past it for a worker
    # that may be dead (past it the job ends anyway, see end_at_deadline).
    claimed = Generation.objects.filter(
        pk=generation_id, status=Status.QUEUED, next_poll_at__isnull=True
    ).update(status=Status.SUBMITTING, lease_until=Least(F("deadline"), now + SUBMIT_LEASE))
    if not claimed:
        return  # canceled, deferred, or another worker has it
    generation = Generation.objects.select_related("credential").get(pk=generation_id)
    if generation.deadline <= now:
        fail(
            generation,
            Status.SUBMITTING,
            "expired",
            expired_message(sent=False),
            status=Status.EXPIRED,
        )
        return
    problem = credential_problem(generation)
    if problem:
        fail(generation, Status.SUBMITTING, ErrorCode.BAD_CREDENTIAL, problem)
        return
    # A team key whose owner stopped sharing it since the job was queued: refused unsent.
    problem = money.key_problem(generation)
    if problem:
        fail(generation, Status.SUBMITTING, "key_unavailable", problem)
        return
    # With the key's listed models: submit() validates the request again.
    adapter = get_adapter(generation.vendor, generation.credential)
    wait = ratelimit.try_acquire(bucket_for(generation), *rate_limit_of(adapter))
    if wait:
        defer(generation, Status.SUBMITTING, wait)
        return
    with vendor_client() as client:
        try:
            conn = connection_for(generation, client)
            request = build_request(generation)
        except VaultError as exc:
            fail(generation, Status.SUBMITTING, ErrorCode.BAD_CREDENTIAL, str(exc))
            return
        # From here on the vendor may receive the paid request: a crash after this line leaves
        # a job that recovery marks as an unknown outcome, never one that is sent again.
        if not update(generation, Status.SUBMITTING, submitted_at=timezone.now()):
            return  # canceled meanwhile
        try:
            with ratelimit.sending_for(bucket_for(generation)):
                result = adapter.submit(conn, request)
        except ratelimit.Blocked as blocked:
            # A 429 blocked the key after its budget granted this request: it never left.
            defer(generation, Status.SUBMITTING, blocked.seconds, submitted_at=None)
            return
        except Exception:
            # Adapters return Failed for vendor trouble; an exception is our bug, and the
            # request may have left: the safe reading is an unknown outcome.
            log.exception("submit of generation %s raised", generation.pk)
            fail(
                generation,
                Status.SUBMITTING,
                "unknown_outcome",
                "Something went wrong in the studio while sending this job; the vendor may "
                "have received it. It was not sent again.",
                status=Status.UNKNOWN_OUTCOME,
                may_have_charged=True,
            )
            return
    handle_submit_result(generation, result)


def defer(generation: Generation, expected, seconds: float, **fields) -> None:
    """Back to the queue, to be submitted by the poller when the key's budget allows."""
    update(
        generation,
        expected,
        status=Status.QUEUED,
        next_poll_at=timezone.now() + timedelta(seconds=seconds),
        lease_until=None,
        **fields,
    )
    enqueue.wake_poller()


def handle_submit_result(generation: Generation, result) -> None:
    now = timezone.now()
    if isinstance(result, Accepted):
        ledger.record_spend(generation, result.spend)
        adapter = get_adapter(generation.vendor)
        first_wait = pacing.first_poll_wait(
            generation.vendor,
            generation.model,
            default=result.poll_after * settings.STUDIO_POLL_SCALE,
            interval=adapter.poll_interval * settings.STUDIO_POLL_SCALE,
        )
        update(
            generation,
            Status.SUBMITTING,
            status=Status.RUNNING,
            remote_id=result.remote_id,
            poll_url=result.poll_url or "",
            running_at=now,
            next_poll_at=now + timedelta(seconds=first_wait),
            lease_until=None,
            raw_reply=result.raw,
        )
        enqueue.wake_poller()
    elif isinstance(result, Finished):
        ledger.record_spend(generation, result.spend)
        if update(
            generation,
            Status.SUBMITTING,
            status=Status.DOWNLOADING,
            remote_id=result.remote_id or "",
            running_at=now,
            downloading_at=now,
            raw_reply=result.raw,
        ):
            hand_over(generation, result.images)
    elif isinstance(result, Failed):
        handle_submit_failure(generation, result)


def handle_submit_failure(generation: Generation, result: Failed) -> None:
    error = result.error
    ledger.record_spend(generation, result.spend)
    if error.code == ErrorCode.RATE_LIMITED and not error.may_have_charged:
        # The vendor refused the request, so nothing was charged: try again when allowed.
        adapter = get_adapter(generation.vendor)
        wait = error.retry_after or rate_limit_of(adapter)[1] / (rate_limit_of(adapter)[0] or 6)
        ratelimit.block(bucket_for(generation), wait)
        if generation.submit_attempts + 1 < MAX_SUBMIT_ATTEMPTS * 2:
            defer(
                generation,
                Status.SUBMITTING,
                wait,
                submitted_at=None,
                submit_attempts=F("submit_attempts") + 1,
                raw_reply=result.raw,
            )
            return
    elif (
        error.retryable
        and not error.may_have_charged
        and generation.submit_attempts + 1 < MAX_SUBMIT_ATTEMPTS
    ):
        # Nothing reached the vendor (e.g. it could not be connected to): safe to try again.
        defer(
            generation,
            Status.SUBMITTING,
            5 * 2**generation.submit_attempts,
            submitted_at=None,
            submit_attempts=F("submit_attempts") + 1,
            raw_reply=result.raw,
        )
        return
    if error.may_have_charged:
        fail(
            generation,
            Status.SUBMITTING,
            error.code,
            f"{error.message} The vendor may have received the request and charged for it, "
            "so it was not sent again: check your vendor account, then submit again if needed.",
            status=Status.UNKNOWN_OUTCOME,
            may_have_charged=True,
            raw_reply=result.raw,
        )
    else:
        fail(generation, Status.SUBMITTING, error.code, error.message, raw_reply=result.raw)
    if error.code == ErrorCode.BAD_CREDENTIAL and generation.credential_id:
        Credential.objects.filter(pk=generation.credential_id).exclude(status="revoked").update(
            status="failed", status_message=error.message
        )


# --- poll -----------------------------------------------------------------------------------


def expired_message(sent: bool = True) -> str:
    if not sent:
        return (
            "This job reached its deadline before it was sent to the vendor: nothing was charged."
        )
    return (
        "The vendor did not finish this job before its deadline, so the studio stopped waiting. "
        "The vendor may still have charged for it."
    )


def end_at_deadline(generation: Generation) -> bool:
    """Ends a job that is past its deadline, whatever its state.

    A job being submitted is ended too, even if a worker is still waiting on the vendor: it may
    be dead (killed mid-submit) and nothing can tell. If the paid POST may have left, the job is
    an unknown outcome and is never sent again. The `where` conditions make the UPDATE itself
    check `submitted_at`, so a worker that sets it at the same moment cannot be missed."""
    if generation.status == Status.DOWNLOADING:
        return end_download_at_deadline(generation)
    if generation.status == Status.SUBMITTING and generation.submitted_at is not None:
        return fail(
            generation,
            Status.SUBMITTING,
            "unknown_outcome",
            "This job reached its deadline while it was being sent to the vendor. The vendor "
            "may have received it and charged for it, so it was not sent again: check your "
            "vendor account, then submit again if needed.",
            status=Status.UNKNOWN_OUTCOME,
            may_have_charged=True,
        )
    sent = generation.submitted_at is not None
    return fail(
        generation,
        generation.status,
        "expired",
        expired_message(sent),
        status=Status.EXPIRED,
        may_have_charged=sent,
        where={"submitted_at__isnull": not sent},
    )


def end_download_at_deadline(generation: Generation) -> bool:
    """A download past its own deadline (`store.download_deadline`): keep what is stored."""
    stored = generation.images.count()
    total = max(stored, len(generation.pending_sources or []), 1)
    finish_download(generation, total, stored, [(None, "the job's deadline passed")])
    return True


def poll(generation: Generation, client: httpx.Client) -> None:
    """One poll of a running job; the poller has already taken a slot from the key's budget."""
    adapter = get_adapter(generation.vendor)
    try:
        conn = connection_for(generation, client)
    except VaultError as exc:
        fail(
            generation,
            Status.RUNNING,
            ErrorCode.BAD_CREDENTIAL,
            f"{exc} The studio can no longer ask the vendor for this job's result.",
            may_have_charged=True,
        )
        return
    try:
        with ratelimit.sending_for(bucket_for(generation)):
            result = adapter.poll(conn, generation.remote_id, generation.poll_url or None)
    except ratelimit.Blocked as blocked:
        # Never sent: poll again when the block ends, as if the poller had not granted it.
        wait = timedelta(seconds=blocked.seconds)
        update(generation, Status.RUNNING, next_poll_at=timezone.now() + wait)
        return
    except Exception:
        # Adapters return Failed for vendor trouble; anything else is our bug. Keep polling
        # until the deadline rather than losing the job, and keep the traceback in the log.
        log.exception("poll of generation %s raised", generation.pk)
        result = None
    handle_poll_result(generation, adapter, result)


def next_interval(adapter, polls: int, suggested: float | None) -> float:
    backoff = adapter.poll_interval * adapter.poll_backoff ** max(0, polls - 1)
    return max(suggested or 0, min(adapter.poll_max, backoff)) * settings.STUDIO_POLL_SCALE


def handle_poll_result(generation: Generation, adapter, result) -> None:
    now = timezone.now()
    if isinstance(result, Finished):
        ledger.record_spend(generation, result.spend)
        if update(
            generation,
            Status.RUNNING,
            status=Status.DOWNLOADING,
            downloading_at=now,
            progress=100,
            polls=F("polls") + 1,
            raw_reply=result.raw,
        ):
            if generation.running_at and not generation.redownloads:
                pacing.record_duration(
                    generation.vendor,
                    generation.model,
                    (now - generation.running_at).total_seconds(),
                )
            hand_over(generation, result.images)
        return
    if isinstance(result, Running):
        update(
            generation,
            Status.RUNNING,
            polls=F("polls") + 1,
            progress=result.progress,
            next_poll_at=now
            + timedelta(seconds=next_interval(adapter, generation.polls + 1, result.poll_after)),
            raw_reply=result.raw,
        )
        return
    error = result.error if isinstance(result, Failed) else None
    if error is None or error.retryable:
        # Transient trouble while polling costs nothing: keep trying until the deadline.
        wait = next_interval(adapter, generation.polls + 1, error.retry_after if error else None)
        if error and error.code == ErrorCode.RATE_LIMITED:
            ratelimit.block(bucket_for(generation), error.retry_after or wait)
        update(
            generation,
            Status.RUNNING,
            polls=F("polls") + 1,
            poll_errors=F("poll_errors") + 1,
            next_poll_at=now + timedelta(seconds=wait),
            raw_reply=result.raw if result else generation.raw_reply,
        )
        return
    ledger.record_spend(generation, result.spend)
    # The vendor accepted the paid request before this failure: it may well have charged.
    fail(
        generation,
        Status.RUNNING,
        error.code,
        error.message,
        may_have_charged=True,
        polls=F("polls") + 1,
        raw_reply=result.raw,
    )
