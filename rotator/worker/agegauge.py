"""The credential-age gauges (``rotator_credentials_overdue``,
``rotator_credential_age_max_seconds``), read at scrape time but not paid for by every scrape,
and never holding one up.

Counting the overdue credentials reads each secret's Vault metadata (its own ``rotator.max_age``)
and the stored states: ``Runtime.age_rows``, the compliance report's rows. ``AgeSnapshot`` keeps
the last count for ``ttl`` seconds; an older one is refreshed on a daemon thread, and a scrape
waits for that refresh at most ``wait`` seconds. A refresh that fails, or one still running when
its answer is older than ``stale``, shows as NaN (unknown): the gauge never reports a count it
cannot stand behind. Labels: none (the count is fleet-wide; ``rotator report`` names each one).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rotator.reports.age import AgeRow

__all__ = ["AGE_TTL", "AGE_WAIT", "AgeSnapshot", "Ages", "summarize"]

AGE_TTL = 30.0  # seconds a count is served before it is read again
AGE_WAIT = 2.0  # seconds a scrape waits for a refresh (Prometheus' default timeout is 10 s)
UNKNOWN = math.nan


@dataclass(frozen=True)
class Ages:
    """How many live credentials are overdue, and the oldest one's age (seconds)."""

    overdue: float
    oldest: float


NO_AGES = Ages(UNKNOWN, UNKNOWN)


def summarize(rows: Sequence[AgeRow]) -> Ages:
    """Pure: the overdue count (rows whose age is unknown are not counted) and the oldest age
    (0 when no credential's age is known)."""
    ages = [r.age_seconds for r in rows if r.age_seconds is not None]
    return Ages(float(sum(1 for r in rows if r.overdue)), max(ages, default=0.0))


class AgeSnapshot:
    """``read()``: the last ``Ages``, refreshed from ``rows`` when older than ``ttl``."""

    def __init__(
        self,
        rows: Callable[[], Sequence[AgeRow]],
        *,
        ttl: float = AGE_TTL,
        wait: float = AGE_WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rows = rows
        self._ttl, self._wait, self._clock = ttl, wait, clock
        self._lock = threading.Lock()
        self._ages, self._at = NO_AGES, -math.inf
        self._running: threading.Event | None = None

    def read(self) -> Ages:
        with self._lock:
            if self._clock() - self._at < self._ttl:
                return self._ages
            running = self._running
            if running is None:
                running = self._running = threading.Event()
                threading.Thread(
                    target=self._refresh, args=(running,), name="rotator-ages", daemon=True
                ).start()
        running.wait(self._wait)
        with self._lock:
            stale = self._clock() - self._at >= 4 * self._ttl
            return NO_AGES if stale else self._ages

    def _refresh(self, done: threading.Event) -> None:
        try:
            ages = summarize(self._rows())
        except Exception:  # Vault or Redis down: unknown (NaN) until the next refresh
            ages = NO_AGES
        with self._lock:
            self._ages, self._at, self._running = ages, self._clock(), None
        done.set()
