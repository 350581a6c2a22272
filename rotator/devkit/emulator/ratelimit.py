"""Composio's per-organisation fixed-window rate limit (one emulator = one organisation).

The window starts with the first counted request after the previous one ended (not on clock
minute boundaries), so a test sees the same numbers every run.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateState"]

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RateState:
    """Where the window stands after one request; ``retry_after`` set only when refused."""

    limit: int
    remaining: int
    window: float
    retry_after: int | None = None

    def headers(self) -> Headers:
        out: Headers = (
            ("X-RateLimit", str(self.limit)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Window-Size", f"{self.window:g}s"),
        )
        if self.retry_after is not None:
            out += (("Retry-After", str(self.retry_after)),)
        return out


class RateLimiter:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._limit: int | None = None
        self._window = 60.0
        self._start = -math.inf
        self._count = 0

    def configure(self, limit: int | None, window: float = 60.0) -> None:
        """Set (or with None remove) the limit; starts a fresh window."""
        if (limit is not None and limit < 0) or window <= 0:
            raise ValueError("rate limit must be >= 0 and the window > 0")
        with self._lock:
            self._limit, self._window = limit, window
            self._start, self._count = -math.inf, 0

    def take(self) -> RateState | None:
        """Count one request; None when no limit is set."""
        with self._lock:
            if self._limit is None:
                return None
            now = self._clock()
            if now >= self._start + self._window:
                self._start, self._count = now, 0
            if self._count >= self._limit:
                wait = math.ceil(self._start + self._window - now)
                return RateState(self._limit, 0, self._window, max(wait, 1))
            self._count += 1
            return RateState(self._limit, self._limit - self._count, self._window)

    def peek(self) -> RateState | None:
        """The current state without counting (for answers that do not count, like 401)."""
        with self._lock:
            if self._limit is None:
                return None
            fresh = self._clock() >= self._start + self._window
            used = 0 if fresh else self._count
            return RateState(self._limit, max(self._limit - used, 0), self._window)
