"""The retry policy's edges that a mutation run of policy.py found untested (README, Testing).

Each test here kills mutants that survived ``tests/unit/test_policy.py``: the 5xx range's ends, the
exponent caps, jitter ranges, whole reasons, zero waits, and Retry-After dates in other zones.
"""

from __future__ import annotations

import math

import pytest

from rotator.core.models import ResponseInfo, RetryAction
from rotator.core.retry import (
    RetryBudget,
    backoff,
    countdown,
    parse_retry_after,
    render_table,
    requeue_delay,
)
from tests.unit.test_policy import BUDGET, NOW, _decide, _info, one, zero

LATER = RetryAction.RETRY_LATER


def _server_wait(status: int, seconds: float, **kw: object) -> ResponseInfo:
    """An answer carrying the server's Retry-After (one place to follow a field rename)."""
    return _info(status, retry_after=seconds, **kw)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (499, RetryAction.FAIL),
        (500, RetryAction.RETRY_NOW),
        (598, RetryAction.RETRY_NOW),
        (599, RetryAction.RETRY_NOW),
        (600, RetryAction.FAIL),
    ],
)
def test_the_5xx_range_is_exactly_500_to_599(status: int, action: RetryAction) -> None:
    """Any status from 500 through 599 is transient; 499 and 600 are not retried."""
    assert _decide(_info(status)).action is action


def test_backoff_doubling_stops_at_2_to_the_60() -> None:
    """A huge attempt number never overflows: the exponent stops at 60 (seen with no cap)."""
    assert backoff(10_000, base=1.0, cap=math.inf, rand=one) == 2.0**60
    assert backoff(61, base=1.0, cap=math.inf, rand=one) == 2.0**60


def test_backoff_is_uniform_in_zero_to_its_ceiling() -> None:
    """Full jitter: the wait is ``rand() * ceiling``, so rand=0.25 gives a quarter of it."""
    assert backoff(3, base=0.5, cap=5.0, rand=lambda: 0.25) == 0.5


def test_countdown_doubling_stops_at_2_to_the_30() -> None:
    """A huge attempt number never overflows: the countdown's exponent stops at 30."""
    budget = RetryBudget(in_call_max_wait=1.0, max_delay=math.inf)
    assert countdown(10_000, budget=budget, rand=one) == 2.0**30
    assert countdown(31, budget=budget, rand=one) == 2.0**30


@pytest.mark.parametrize("attempt", [0, -1, -50])
def test_countdown_for_attempt_zero_or_below_uses_the_in_call_wait_as_ceiling(
    attempt: int,
) -> None:
    """An attempt number below 1 counts as 0: the ceiling is in_call_max_wait (5 s), no less."""
    assert countdown(attempt, budget=BUDGET, rand=one) == 5.0
    assert countdown(attempt, budget=BUDGET, rand=zero) == 2.5


@pytest.mark.parametrize(("r", "expected"), [(0.0, 20.0), (0.5, 30.0), (1.0, 40.0)])
def test_countdown_is_uniform_in_the_upper_half_of_its_ceiling(r: float, expected: float) -> None:
    """Equal jitter after 3 attempts: 40 s ceiling, wait in [20, 40] as ``20 + rand() * 20``."""
    assert countdown(3, budget=BUDGET, rand=lambda: r) == expected


@pytest.mark.parametrize(
    ("info", "kwargs", "reason"),
    [
        (_info(None), {}, "no response is transient; backoff 0.50s"),
        (
            _info(400, slug="HTTP_TooManyRequests"),
            {},
            "400 HTTP_TooManyRequests is rate limiting; backoff 0.50s",
        ),
        (
            _info(401),
            {"key_refreshable": False},
            "401 is an auth failure and the API key is not refreshable",
        ),
        (
            _info(401),
            {"key_refreshable": False, "reauthed": True},
            "401 is an auth failure after re-reading the API key",
        ),
    ],
)
def test_reasons_are_whole_sentences(
    info: ResponseInfo, kwargs: dict[str, object], reason: str
) -> None:
    """The reason says what came back and why the rule applied, word for word."""
    assert _decide(info, **kwargs).reason == reason


@pytest.mark.parametrize(("wait", "delay"), [(0.0, 0.0), (-3.0, 0.0), (0.4, 0.4), (1e9, 300.0)])
def test_retry_later_takes_the_servers_wait_floored_at_zero_and_capped(
    wait: float, delay: float
) -> None:
    """A slug overridden to retry_later waits the server's Retry-After, within [0, max_delay]."""
    decision = _decide(
        _server_wait(503, wait, slug="Tool_Flaky"),
        overrides={"Tool_Flaky": RetryAction.RETRY_LATER},
    )
    assert (decision.action, decision.delay) == (LATER, delay)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after-ms": "999"}, 0.999),
        ({"Retry-After": "1e3"}, 1000.0),
        ({"Retry-After": "-0.001"}, None),
        ({"Retry-After": "10 seconds"}, None),
        ({"Retry-After": "-inf"}, None),
        ({"RETRY-AFTER": "4"}, 4.0),
    ],
)
def test_retry_after_seconds_edge_cases(headers: dict[str, str], expected: float | None) -> None:
    """Zero and fractions below one second are waits; units, negatives and infinities are not."""
    assert parse_retry_after(headers, now=NOW) == expected


@pytest.mark.parametrize(
    "date",
    [
        "Wed, 25 Nov 2026 14:01:00 +0200",  # another zone: 12:01 UTC
        "Wed, 25 Nov 2026 07:01:00 -0500",
        "Wed, 25 Nov 2026 12:01:00 -0000",  # RFC 5322 "zone unknown": taken as UTC
        "Wed, 25 Nov 2026 12:01:00 UT",
    ],
)
def test_retry_after_dates_in_any_zone_count_from_now(date: str) -> None:
    """An HTTP date one minute ahead is a 60 s wait, whatever zone it is written in."""
    assert parse_retry_after({"Retry-After": date}, now=NOW) == 60.0


def test_render_table_starts_with_both_tables_headers() -> None:
    """The Markdown has the precedence table's header first and the rules table's header later."""
    table = render_table()
    assert table.startswith("| # | When the answer is | Rule |\n|---|---|---|\n| 1 | ")
    assert "\n\n| Rule | What rotator does |\n|---|---|\n" in table


def test_the_requeue_delay_floor_is_exactly_one_second() -> None:
    """A countdown that grows to under 2 s is used as it is (1.5 s here), and one under 1 s is
    raised to exactly 1 s: the floor is 1 s, not more."""
    tiny = RetryBudget(in_call_max_wait=0.5, max_delay=300.0)  # first requeue: 0.5-1.0 s
    assert requeue_delay(0, server_wait=None, earliest=None, budget=tiny, rand=zero) == 1.0
    capped = RetryBudget(max_delay=1.5)
    assert requeue_delay(0, server_wait=None, earliest=None, budget=capped, rand=one) == 1.5
    assert requeue_delay(0, server_wait=None, earliest=1.2, budget=tiny, rand=zero) == 1.2
