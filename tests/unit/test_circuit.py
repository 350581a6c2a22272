"""The fleet circuit breaker's pure rules (rotator.core.circuit): table tests, no I/O."""

from __future__ import annotations

import pytest

from rotator.core.circuit import (
    CLOSED,
    Cause,
    Circuit,
    Signal,
    classify,
    decode,
    encode,
    step,
    wait_seconds,
)
from rotator.core.states import CircuitState

OPEN_KEY = Circuit(CircuitState.OPEN, Cause.KEY_REJECTED, 100.0)


@pytest.mark.parametrize(
    ("ok", "transient", "status", "slug", "own_wait", "signal"),
    [
        (True, False, 200, None, False, Signal.SUCCESS),
        (False, False, 401, "HTTP_Unauthorized", False, Signal.KEY_REJECTED),
        (False, False, 401, None, False, Signal.KEY_REJECTED),
        (False, False, 400, "HTTP_Unauthorized", False, Signal.KEY_REJECTED),
        (False, True, 503, None, False, Signal.OUTAGE),
        (False, True, 500, "Internal", False, Signal.OUTAGE),
        (False, True, None, None, False, Signal.OUTAGE),  # timeout, dropped connection
        (False, True, None, None, True, Signal.NEUTRAL),  # rotator's own rate limiter
        (False, True, 429, "HTTP_TooManyRequests", False, Signal.NEUTRAL),
        (False, False, 400, None, False, Signal.NEUTRAL),
        (False, False, 403, None, False, Signal.NEUTRAL),
        (False, False, 404, "AuthConfig_NotFound", False, Signal.NEUTRAL),
        (False, False, 422, None, False, Signal.NEUTRAL),
        (False, False, 501, None, False, Signal.NEUTRAL),  # final 5xx: a permanent answer
        (False, False, 400, "ConnectedAccount_BadRequest", False, Signal.NEUTRAL),
    ],
)
def test_classify_names_what_an_answer_says_about_the_fleet(
    ok: bool, transient: bool, status: int | None, slug: str | None, own_wait: bool, signal: Signal
) -> None:
    """A 401 is the caller's key; 5xx / no answer is an outage; per-config answers are neutral."""
    assert classify(ok=ok, transient=transient, status=status, slug=slug, own_wait=own_wait) == (
        signal
    )


def test_a_rejected_key_opens_at_once() -> None:
    """One 401 opens the closed breaker, with its cause and the time."""
    t = step(CLOSED, Signal.KEY_REJECTED, "ac_1", now=100.0, threshold=5)
    assert t.circuit == OPEN_KEY and t.event == "composio.circuit_open" and t.changed


def test_outages_open_after_threshold_distinct_configs() -> None:
    """K outage failures open it only when they are on K distinct auth configs, in a row."""
    c = CLOSED
    for nanoid in ["a", "b", "a", "c", "b"]:
        t = step(c, Signal.OUTAGE, nanoid, now=1.0, threshold=4)
        assert not t.circuit.open and t.event is None
        c = t.circuit
    assert c.failing == ("a", "b", "c")
    t = step(c, Signal.OUTAGE, "d", now=2.0, threshold=4)
    assert t.circuit.open and t.circuit.cause is Cause.OUTAGE and t.event == "composio.circuit_open"
    assert t.circuit.failing == ("a", "b", "c", "d") and t.circuit.opened_at == 2.0


def test_a_success_resets_the_outage_count() -> None:
    """A success in between: the failures are no longer in a row."""
    c = step(CLOSED, Signal.OUTAGE, "a", now=1.0, threshold=2).circuit
    t = step(c, Signal.SUCCESS, "x", now=1.0, threshold=2)
    assert t.circuit == CLOSED and t.changed and t.event is None
    assert not step(t.circuit, Signal.OUTAGE, "b", now=1.0, threshold=2).circuit.open


def test_neutral_answers_never_open_or_reset() -> None:
    """400/404/422 change nothing, closed or open, and ask for no write."""
    c = step(CLOSED, Signal.OUTAGE, "a", now=1.0, threshold=2).circuit
    for circuit in (CLOSED, c, OPEN_KEY):
        t = step(circuit, Signal.NEUTRAL, "z", now=1.0, threshold=2)
        assert t.circuit == circuit and not t.changed and t.event is None


def test_the_first_success_closes_an_open_breaker() -> None:
    """The probe's success closes it, with one closed event."""
    t = step(OPEN_KEY, Signal.SUCCESS, "ac_1", now=130.0, threshold=5)
    assert t.circuit == CLOSED and t.event == "composio.circuit_closed" and t.changed


def test_failures_while_open_change_nothing() -> None:
    """An open breaker stays as it opened (one open event, the first cause)."""
    for signal in (Signal.KEY_REJECTED, Signal.OUTAGE):
        t = step(OPEN_KEY, signal, "ac_2", now=200.0, threshold=1)
        assert t.circuit == OPEN_KEY and not t.changed and t.event is None


def test_a_success_with_nothing_to_clear_writes_nothing() -> None:
    """The common case costs no Redis write."""
    assert not step(CLOSED, Signal.SUCCESS, "a", now=1.0, threshold=5).changed


@pytest.mark.parametrize(
    "circuit",
    [CLOSED, OPEN_KEY, Circuit(CircuitState.OPEN, Cause.OUTAGE, 5.5, ("a", "b"))],
)
def test_encode_decode_round_trip(circuit: Circuit) -> None:
    """What is written to Redis reads back the same."""
    assert decode(encode(circuit)) == circuit


@pytest.mark.parametrize(
    "raw", [None, "", "garbage", "[]", '{"state": "ajar"}', '{"cause": "x", "state": "open"}']
)
def test_a_garbled_value_reads_closed(raw: str | None) -> None:
    """Fail open: an unreadable breaker never stops the fleet."""
    assert decode(raw) == CLOSED


@pytest.mark.parametrize(
    ("probe_in", "rand", "expected"),
    [(0.0, 0.0, 5.0), (0.0, 1.0, 20.0), (12.0, 0.0, 12.0), (12.0, 0.8, 17.0), (-1.0, 0.5, 12.5)],
)
def test_wait_is_past_the_next_probe_and_spread(
    probe_in: float, rand: float, expected: float
) -> None:
    """A held rotation comes back spread over a quarter to one interval, never before the
    current probe lease ends."""
    assert wait_seconds(probe_in=probe_in, interval=20.0, rand=rand) == expected
