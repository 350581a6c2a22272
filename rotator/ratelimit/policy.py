"""The pure decisions behind rotator's Composio rate limit: no I/O, table-tested.

Composio announces the organisation's limit on every answer (``X-RateLimit`` requests per
``X-RateLimit-Window-Size``). rotator takes ``share`` of it (``ROTATOR_RATE_LIMIT_SHARE``); an
explicit ``ROTATOR_RATE_LIMIT`` is a cap on top, and the lower of the two per second wins. Until
an answer has announced a limit, rotator assumes the smallest plan, ``STARTER`` (2,000/min), so
it starts at ``share`` of that: 1,000/min with the default share.

``Budget`` says "at most ``count`` requests in any ``period`` seconds, ``burst`` of them at
once"; ``Budget.spacing`` turns it into the GCRA emission interval and tolerance. The burst
counts inside the budget, so it costs long-run throughput (``count - burst + 1`` per period):
it is held to ``BURST_SHARE`` of the count, which keeps at least 95% of the budget usable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rotator.core.models import ResponseInfo

__all__ = [
    "BURST_SHARE",
    "DEFAULT_WINDOW",
    "LEASE_FOR",
    "LEASE_FROM",
    "LEASE_MOST",
    "STARTER",
    "Adaptation",
    "Announced",
    "Budget",
    "adaptation",
    "announced",
    "budget",
    "decode_learned",
    "encode_learned",
]

DEFAULT_WINDOW = 60.0  # Composio's window when an answer names none
BURST_SHARE = 0.05
LEASE_FROM = 200.0  # requests/s: below it every request asks Redis, spaced to the request
LEASE_MOST = 8  # slots one Redis call may grant a process
LEASE_FOR = 0.05  # seconds a leased slot stays usable (the spacing holds that much back)


@dataclass(frozen=True)
class Announced:
    """The organisation's limit as Composio announced it: ``limit`` requests per ``window`` s."""

    limit: int
    window: float


STARTER = Announced(limit=2000, window=60.0)


@dataclass(frozen=True)
class Budget:
    """At most ``count`` requests in any ``period`` seconds, ``burst`` of them at once."""

    count: float
    period: float
    burst: int
    source: str  # "announced": share of the announced limit; "assumed": of STARTER; "cap"

    @property
    def per_second(self) -> float:
        return self.count / self.period

    @property
    def lease(self) -> int:
        """Slots one acquire asks Redis for: 1 below ``LEASE_FROM`` per second; above, what the
        budget grants in 20 ms, at most ``LEASE_MOST`` and ``burst`` (the script grants no more
        than the burst tolerance still holds)."""
        if self.per_second < LEASE_FROM:
            return 1
        return max(1, min(LEASE_MOST, self.burst, int(self.per_second * 0.02)))

    def spacing(self) -> tuple[float, float]:
        """GCRA's emission interval and burst tolerance, in seconds. With leases, the budget's
        ``LEASE_FOR`` s are held back: a slot granted up to that long before a window and spent
        in it still leaves the window within ``count``, however many processes hold leases."""
        held = math.ceil(LEASE_FOR * self.per_second) if self.lease > 1 else 0
        interval = self.period / (self.count - held - self.burst + 1)
        return interval, (self.burst - 1) * interval


def announced(
    limit: int | None, window: float | None, *, default_window: float = DEFAULT_WINDOW
) -> Announced | None:
    """What an answer's headers announce; None when they announce no usable limit."""
    if limit is None or limit <= 0:
        return None
    return Announced(limit, window if window is not None and window > 0 else default_window)


def encode_learned(value: Announced) -> tuple[str, str]:
    """The canonical text of a learned limit as stored in Redis (compared as strings there)."""
    return str(value.limit), repr(float(value.window))


def decode_learned(limit: bytes | str | None, window: bytes | str | None) -> Announced | None:
    """A learned limit read back from Redis; None when absent or not what we would write."""
    try:
        return announced(int(limit or ""), float(window or ""))
    except ValueError:
        return None


def budget(
    learned: Announced | None,
    *,
    share: float,
    cap: tuple[float, float] | None,
    burst: int,
) -> Budget:
    """rotator's budget: ``share`` of the announced limit (else of STARTER), capped by ``cap``
    (requests, per seconds) when that is lower per second; ``burst`` held to BURST_SHARE."""
    base = learned if learned is not None else STARTER
    count, period = share * base.limit, base.window
    source = "announced" if learned is not None else "assumed"
    if cap is not None and cap[0] / cap[1] < count / period:
        count, period, source = cap[0], cap[1], "cap"
    held = max(1, min(burst, int(count * BURST_SHARE)))
    return Budget(count=count, period=period, burst=held, source=source)


@dataclass(frozen=True)
class Adaptation:
    """Lower the shared rate to ``factor`` x budget for ``ttl`` s; pause all for ``hold`` s."""

    factor: float
    ttl: float
    hold: float
    reason: str


def adaptation(
    info: ResponseInfo,
    *,
    low_water: float = 0.1,
    low_factor: float = 0.5,
    throttled_factor: float = 0.25,
    default_window: float = DEFAULT_WINDOW,
    own_rate: float | None = None,
) -> Adaptation | None:
    """What one Composio answer says about the organisation's budget; None: nothing to change."""
    window = info.rate_window if info.rate_window and info.rate_window > 0 else default_window
    if info.status == 429 or info.slug == "HTTP_TooManyRequests":
        hold = min(max(info.retry_after or 0.0, 0.0), window)
        return Adaptation(throttled_factor, window, hold, "429")
    limit, remaining = info.rate_limit, info.rate_remaining
    if not (limit and limit > 0 and remaining is not None and remaining < low_water * limit):
        return None
    # Our own steady use leaves at least limit - own budget per window: when that is more than
    # the low-water mark, a low Remaining means other clients share the budget -> slow down.
    # With a share close to the limit, a low Remaining is our own doing: 429s remain the signal.
    if own_rate is not None and own_rate * window > (1 - low_water) * limit:
        return None
    return Adaptation(low_factor, window, 0.0, f"remaining {remaining}/{limit}")
