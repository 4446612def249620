"""When to poll a job for the first time: not before the vendor could plausibly be done.

A vendor model takes about the same time for every job (a few seconds for some, a minute for
others). Polling from the first second wastes the vendor's rate budget and the poller's time
on answers that can only be "still running": with hundreds of jobs in flight, that waste is
what made the poller fall behind. So the engine remembers how long recent jobs of the same
vendor and model took to be seen finished, and waits for the quick end of that range
(the 10th percentile, less one poll interval) before the first poll. After that it polls at
the adapter's (or the operator's) interval as before.

The samples live in Django's cache (the database cache, shared by every process and host);
losing them only means polling from the start again until a few jobs have finished.
"""

from __future__ import annotations

from django.core.cache import cache

SAMPLES = 50  # recent durations kept per vendor and model
MIN_SAMPLES = 5  # fewer than this: no opinion yet
QUANTILE = 0.10
KEEP_SECONDS = 7 * 24 * 3600


def _key(vendor: str, model: str) -> str:
    return f"studio:durations:{vendor}:{model}"[:250]


def record_duration(vendor: str, model: str, seconds: float) -> None:
    """Remembers how long a job took from the vendor accepting it to the poll that saw it done.

    Read-modify-write without a lock: two jobs finishing at the same instant may keep only one
    sample, which does not matter for a percentile of fifty."""
    samples = cache.get(_key(vendor, model)) or []
    cache.set(_key(vendor, model), [*samples[-(SAMPLES - 1) :], round(seconds, 3)], KEEP_SECONDS)


def _windows_key(vendor: str, model: str) -> str:
    return f"studio:ready-windows:{vendor}:{model}"[:250]


def record_window(vendor: str, model: str, still_running: float, done: float) -> None:
    """Remembers that a job was still running `still_running` seconds after the vendor accepted
    it and done at `done`: it became ready somewhere in between (engine/schedule.py)."""
    windows = cache.get(_windows_key(vendor, model)) or []
    window = [round(min(still_running, done), 3), round(done, 3)]
    cache.set(_windows_key(vendor, model), [*windows[-(SAMPLES - 1) :], window], KEEP_SECONDS)


def ready_windows(vendor: str, model: str) -> list[tuple[float, float]]:
    return [(lo, hi) for lo, hi in cache.get(_windows_key(vendor, model)) or []]


def first_poll_wait(vendor: str, model: str, default: float, interval: float) -> float:
    """Seconds until the first poll: the adapter's wait, or longer when recent jobs of this
    vendor and model show it cannot be done before then."""
    samples = cache.get(_key(vendor, model)) or []
    if len(samples) < MIN_SAMPLES:
        return default
    quick = sorted(samples)[int(len(samples) * QUANTILE)]
    return max(default, quick - interval)


def typical_duration(vendor: str, model: str) -> float | None:
    """The median time recent jobs of this vendor and model took once the vendor accepted
    them, for the ETA a running job's card shows; None until there are enough samples."""
    samples = sorted(cache.get(_key(vendor, model)) or [])
    if len(samples) < MIN_SAMPLES:
        return None
    return samples[len(samples) // 2]
