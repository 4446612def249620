"""Which job a rate-limited key polls next, and when: where a result is most likely.

A key with a documented limit (girlgenerator: 10 requests a minute, polls included) cannot
afford to poll every job on a fixed schedule; the question for each request is which of the
key's running jobs is most likely to be done now. The pacing history answers it:

- Every finished job of a vendor and model leaves a window: it was still running at its last
  poll (`lo` seconds after the vendor accepted it, 0 if never polled) and done at the poll that
  saw it (`hi`). Spreading each window evenly over its span gives an estimate of
  P(ready by t), the share of past jobs done t seconds after acceptance (`ready_cdf`).
- Until a vendor and model have `pacing.MIN_SAMPLES` windows, the adapter's `typical_seconds`
  (the range the vendor's documentation and sample client imply) fills in as the missing
  samples: a prior that the history takes over sample by sample.
- A job that was polled `lo` seconds in and was still running is ready now with probability
  (F(now) - F(lo)) / (1 - F(lo)) (`chance`). A job older than every sample (F(lo) = 1) is
  overdue: the history says nothing more, so it counts as likely (1.0) and is polled at the
  adapter's pace, which its `next_poll_at` keeps.
- The key's next request goes to the job with the highest chance, if that chance is at least
  `1 - free / (2 × in_flight)` and never below PLAUSIBLE (one half), where `free` is what the
  budget still allows now and `in_flight` the key's running jobs. A slot spent now comes back
  only a whole period later, so a poll is a bet that must pay off more often than not; the
  fewer slots each job has left, the surer it must be (a third of a slot per job: five chances
  in six). Spent on polls that can only answer "still running", a scarce budget would leave
  the jobs that are done waiting for the next window.
- Submits come first: a job waiting to be submitted makes `free` one smaller. A submit starts
  the vendor's clock, so a second's delay costs its job a whole second; a poll delayed by a
  second costs at most a second of one job's lateness, and only if that job was done.

The rate limiter (`ratelimit.try_acquire`) stays the single authority: this only chooses which
job asks it, and a refusal leaves the job to be chosen again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings

from studio.engine import pacing, ratelimit
from studio.models import Generation, RateBudget

# Below this a poll is more likely wasted than not: a slot is never spent on it.
PLAUSIBLE = 0.5


@dataclass(frozen=True)
class Candidate:
    pk: int
    elapsed: float  # seconds since the vendor accepted the job
    polled: float  # seconds after acceptance of its last poll ("still running"); 0 if none
    cdf: Callable[[float], float]  # P(ready by t) for its vendor and model


def prior_windows(adapter) -> list[tuple[float, float]]:
    low, high = adapter.typical_seconds or (adapter.poll_interval, adapter.poll_interval * 6)
    scale = settings.STUDIO_POLL_SCALE
    return [(low * scale, high * scale)]


def windows_for(vendor: str, model: str, adapter) -> list[tuple[float, float]]:
    """The history's windows, with the prior standing in for the samples it lacks."""
    seen = pacing.ready_windows(vendor, model)
    missing = max(0, pacing.MIN_SAMPLES - len(seen))
    return seen + prior_windows(adapter) * missing


def ready_cdf(windows: Sequence[tuple[float, float]]) -> Callable[[float], float]:
    """P(ready by t): each window's job became ready somewhere in (lo, hi], evenly likely."""

    def share(t: float, lo: float, hi: float) -> float:
        if hi <= lo:
            return 1.0 if t >= hi else 0.0
        return min(1.0, max(0.0, (t - lo) / (hi - lo)))

    def cdf(t: float) -> float:
        return sum(share(t, lo, hi) for lo, hi in windows) / len(windows)

    return cdf


def chance(candidate: Candidate) -> float:
    """P(ready now | still running at its last poll)."""
    before = candidate.cdf(candidate.polled)
    if before >= 1.0 - 1e-9:
        return 1.0  # older than every sample: overdue
    return max(0.0, candidate.cdf(candidate.elapsed) - before) / (1.0 - before)


def threshold(free: int, in_flight: int) -> float:
    return max(PLAUSIBLE, 1.0 - free / (2 * max(in_flight, 1)))


def choose(candidates: Sequence[Candidate], free: int, in_flight: int) -> Candidate | None:
    """The job to spend the key's next request on, or None to keep the request for later."""
    if free <= 0 or not candidates:
        return None
    # Equal chances: the job polled longest ago, then the oldest.
    best = max(candidates, key=lambda c: (chance(c), c.elapsed - c.polled, c.elapsed))
    return best if chance(best) >= threshold(free, in_flight) else None


def free_slots(bucket: str, limit: int, period: float) -> int:
    """What the key's budget still allows now (read without a lock: only a hint for `choose`;
    `ratelimit.try_acquire` decides)."""
    row = RateBudget.objects.filter(bucket=bucket).values_list("hits", "blocked_until").first()
    if row is None:
        return limit
    hits, blocked_until = row
    if blocked_until and blocked_until.timestamp() > time.time():
        return 0
    since = time.time() - period - settings.STUDIO_RATE_LIMIT_MARGIN
    return limit - sum(1 for t in hits if t > since)


# --- the poller's side ----------------------------------------------------------------------


def seconds(delta) -> float:
    return max(0.0, delta.total_seconds())


def pick(bucket: str, due: Sequence, now, adapter_of, limit: int, period: float):
    """Of a rate-limited key's due jobs, the one to poll now (its request already taken from
    the budget), or None. `adapter_of(vendor)` gives the vendor's adapter."""
    Status = Generation.Status
    sample = due[0]
    same_key = Generation.objects.filter(
        vendor=sample.vendor, credential_id__in={g.credential_id for g in due}
    )
    # Submits first (see above): each job waiting to be sent keeps one slot for itself.
    free = free_slots(bucket, limit, period) - same_key.filter(status=Status.QUEUED).count()
    if free <= 0:
        return None
    in_flight = same_key.filter(status=Status.RUNNING).count()
    cdfs: dict[str, Callable[[float], float]] = {}
    candidates = []
    for generation in due:
        if generation.model not in cdfs:
            adapter = adapter_of(generation.vendor)
            cdfs[generation.model] = ready_cdf(
                windows_for(generation.vendor, generation.model, adapter)
            )
        started = generation.running_at or now
        polled = seconds(generation.polled_at - started) if generation.polled_at else 0.0
        candidates.append(
            Candidate(generation.pk, seconds(now - started), polled, cdfs[generation.model])
        )
    chosen = choose(candidates, free, in_flight)
    if chosen is None:
        return None
    if ratelimit.try_acquire(bucket, limit, period):
        return None  # the limiter says no (another process, a 429): choose again next loop
    return next(g for g in due if g.pk == chosen.pk)
