"""The once-a-minute sweep that resumes jobs whose worker died. It never resubmits a paid POST."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from studio.engine import enqueue, jobs, state, store
from studio.engine.enqueue import wake_poller, work_remains
from studio.engine.poller import expire_overdue
from studio.models import Generation

Status = Generation.Status


def recover_generations() -> None:
    now = timezone.now()
    # First end the jobs past their deadline, whatever their state or lease (a submit lease
    # ends at the deadline, so an overdue submit must not be queued again below).
    expire_overdue(now)
    stale = Generation.objects.filter(lease_until__lt=now)

    for generation in stale.filter(status=Status.SUBMITTING):
        if generation.submitted_at is None:
            # Died before the POST left: nothing reached the vendor, so submitting is safe. The
            # UPDATE checks submitted_at itself, in case the worker is alive after all.
            if state.update(
                generation,
                Status.SUBMITTING,
                where={"submitted_at__isnull": True},
                status=Status.QUEUED,
                lease_until=now + jobs.QUEUE_GRACE,
                next_poll_at=None,
            ):
                enqueue.submit(generation.pk)
        else:
            state.fail(
                generation,
                Status.SUBMITTING,
                "unknown_outcome",
                "The studio stopped while sending this job to the vendor, so it cannot tell "
                "whether the vendor received it (and charged for it). It was not sent again: "
                "check your vendor account, then submit again if needed.",
                status=Status.UNKNOWN_OUTCOME,
                may_have_charged=True,
            )

    # Queued jobs whose submit task was lost (a worker died holding it, or it failed).
    for pk in stale.filter(status=Status.QUEUED, next_poll_at__isnull=True).values_list(
        "pk", flat=True
    ):
        if Generation.objects.filter(pk=pk, status=Status.QUEUED, lease_until__lt=now).update(
            lease_until=now + jobs.QUEUE_GRACE
        ):
            enqueue.submit(pk)

    # Downloads whose worker died (lease passed), and finished jobs whose store task has not
    # started in STORE_QUEUE_GRACE (lost with a worker, or a long queue: a duplicate is a no-op).
    unclaimed = Q(lease_until__isnull=True, downloading_at__lt=now - store.STORE_QUEUE_GRACE)
    downloads = Generation.objects.filter(Q(lease_until__lt=now) | unclaimed)
    for pk in downloads.filter(status=Status.DOWNLOADING).values_list("pk", flat=True):
        enqueue.store(pk)

    # Running jobs need no lease: the poller owns them. Make sure it is alive.
    if work_remains():
        wake_poller()

    # Last, so that a storage error cannot keep the sweep from its jobs: staged bytes that no
    # job will read any more (a hand-over that died half-way). The next sweep tries again.
    store.discard_orphaned_staged(now)
