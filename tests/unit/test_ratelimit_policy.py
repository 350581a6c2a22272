"""The pure rate-limit decisions, as tables: what an answer announces, and rotator's budget."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rotator.ratelimit.policy import (
    STARTER,
    Announced,
    Budget,
    announced,
    budget,
    decode_learned,
    encode_learned,
)

MIN = 60.0


@pytest.mark.parametrize(
    ("limit", "window", "expected"),
    [
        (2000, 60.0, Announced(2000, 60.0)),
        (200, 10.0, Announced(200, 10.0)),
        (2000, None, Announced(2000, 60.0)),  # no window header: Composio's one minute
        (2000, 0.0, Announced(2000, 60.0)),
        (2000, -5.0, Announced(2000, 60.0)),
        (None, 60.0, None),  # a 429 without headers announces nothing
        (0, 60.0, None),
        (-1, 60.0, None),
    ],
)
def test_what_the_headers_announce(
    limit: int | None, window: float | None, expected: Announced | None
) -> None:
    """A positive X-RateLimit is a limit; a missing or unusable window means 60 s."""
    assert announced(limit, window) == expected


@pytest.mark.parametrize(
    ("learned", "share", "cap", "burst", "expected"),
    [
        # nothing announced yet: share of Starter's 2,000/min
        (None, 0.5, None, 10, Budget(1000, MIN, 10, "assumed")),
        (None, 1.0, None, 10, Budget(2000, MIN, 10, "assumed")),
        (None, 0.5, (600.0, MIN), 10, Budget(600, MIN, 10, "cap")),
        # the share of what Composio announced
        (Announced(2000, MIN), 0.5, None, 10, Budget(1000, MIN, 10, "announced")),
        (Announced(10000, MIN), 0.5, None, 10, Budget(5000, MIN, 10, "announced")),
        (Announced(200, 10.0), 0.5, None, 10, Budget(100, 10.0, 5, "announced")),
        (Announced(20000, 600.0), 0.25, None, 10, Budget(5000, 600.0, 10, "announced")),
        # a cap on top: the lower per second wins, with its own period
        (Announced(10000, MIN), 0.5, (1500.0, MIN), 10, Budget(1500, MIN, 10, "cap")),
        (Announced(10000, MIN), 0.5, (25.0, 1.0), 10, Budget(25, 1.0, 1, "cap")),
        (Announced(2000, MIN), 0.5, (1500.0, MIN), 10, Budget(1000, MIN, 10, "announced")),
        (Announced(2000, MIN), 0.5, (1000.0, MIN), 10, Budget(1000, MIN, 10, "announced")),
        # the burst is held to 5% of the count, at least 1
        (Announced(2000, MIN), 0.5, None, 100, Budget(1000, MIN, 50, "announced")),
        (Announced(20, MIN), 0.5, None, 10, Budget(10, MIN, 1, "announced")),
        (Announced(1, MIN), 0.5, None, 10, Budget(0.5, MIN, 1, "announced")),
    ],
)
def test_the_budget_is_the_share_of_the_announced_limit_capped(
    learned: Announced | None,
    share: float,
    cap: tuple[float, float] | None,
    burst: int,
    expected: Budget,
) -> None:
    """share x announced (Starter until told), unless the cap is lower per second."""
    assert budget(learned, share=share, cap=cap, burst=burst) == expected


@pytest.mark.parametrize(
    ("count", "period", "burst", "interval", "tolerance"),
    [
        (1000, 60.0, 10, 60 / 991, 9 * 60 / 991),
        (100, 1.0, 1, 0.01, 0.0),
        (0.5, 60.0, 1, 120.0, 0.0),
    ],
)
def test_spacing_counts_the_burst_inside_the_budget(
    count: float, period: float, burst: int, interval: float, tolerance: float
) -> None:
    """count grants in any period: burst at once, then count - burst spread over the rest."""
    got = Budget(count, period, burst, "announced").spacing()
    assert got == pytest.approx((interval, tolerance))


@pytest.mark.parametrize(
    "learned", [STARTER, Announced(200, 10.0), Announced(7, 0.25), Announced(10**9, 3600.0)]
)
def test_a_learned_limit_survives_redis_text(learned: Announced) -> None:
    """What is written to Redis reads back as the same limit (as text or as bytes)."""
    limit, window = encode_learned(learned)
    assert decode_learned(limit, window) == learned
    assert decode_learned(limit.encode(), window.encode()) == learned


@pytest.mark.parametrize(
    ("limit", "window"),
    [(b"", b""), (None, None), (b"abc", b"60.0"), (b"200", b"x"), (b"0", b"60.0"), (b"2.5", b"1")],
)
def test_garbage_in_redis_is_no_learned_limit(limit: bytes | None, window: bytes | None) -> None:
    """Anything but a positive whole limit and a number is treated as nothing learned."""
    assert decode_learned(limit, window) is None


def test_the_policy_imports_no_io_library() -> None:
    """The rate decisions are pure: importing them loads no Redis, HTTP or logging library."""
    code = "import json, sys, rotator.ratelimit.policy; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.partition(".")[0] for name in json.loads(out.stdout)}
    assert loaded.isdisjoint({"httpx", "hvac", "redis", "celery", "structlog"}), loaded
