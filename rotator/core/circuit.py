"""The fleet circuit breaker's pure core: state + signal -> new state and the event to log.

A failure about rotator or Composio as a whole stops the fleet instead of failing every auth
config. Composio rejecting rotator's own key (401 / ``HTTP_Unauthorized``, after the key was
read again where it lives in Vault) opens the breaker at once; an outage (5xx, a timeout or a
dropped connection) opens it once ``threshold`` distinct auth configs failed so in a row. The
first success closes it. Per-config answers (400, 404, 422, 429, a slug naming the config) are
neutral. No I/O here: ``state.circuit`` keeps the state in Redis, ``rotation.breaker``
sequences it around the PATCH.
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass, replace

from rotator.core.states import CircuitState

__all__ = [
    "CLOSED",
    "WAIT_REASON",
    "Cause",
    "Circuit",
    "Signal",
    "Transition",
    "classify",
    "decode",
    "describe",
    "encode",
    "step",
    "wait_seconds",
]

WAIT_REASON = "circuit_open"
"""The ``reason`` of a rotation held back by the open breaker (not a failure, not a retry)."""

OPENED, CLOSED_EVENT = "composio.circuit_open", "composio.circuit_closed"


class Signal(enum.StrEnum):
    """What one Composio answer says about the fleet."""

    SUCCESS = "success"
    KEY_REJECTED = "key_rejected"
    OUTAGE = "outage"
    NEUTRAL = "neutral"


class Cause(enum.StrEnum):
    """Why the breaker opened."""

    KEY_REJECTED = "key_rejected"
    OUTAGE = "outage"


@dataclass(frozen=True)
class Circuit:
    """The shared breaker: its state, why it opened, and the distinct auth configs that failed
    with an outage since the last success (``failing``; at most ``threshold`` kept)."""

    state: CircuitState = CircuitState.CLOSED
    cause: Cause | None = None
    opened_at: float | None = None
    failing: tuple[str, ...] = ()

    @property
    def open(self) -> bool:
        return self.state is CircuitState.OPEN


CLOSED = Circuit()


@dataclass(frozen=True)
class Transition:
    """The result of one signal: the new circuit, and the event to log (None: nothing new)."""

    circuit: Circuit
    event: str | None = None
    changed: bool = False


def classify(
    *, ok: bool, transient: bool, status: int | None, slug: str | None, own_wait: bool
) -> Signal:
    """One Composio call's end -> its signal. ``own_wait``: rotator's own rate limiter held the
    call back (no answer was asked for, so it says nothing about Composio)."""
    if ok:
        return Signal.SUCCESS
    if status == 401 or slug == "HTTP_Unauthorized":
        return Signal.KEY_REJECTED
    if transient and not own_wait and (status is None or 500 <= status <= 599):
        return Signal.OUTAGE
    return Signal.NEUTRAL


def step(c: Circuit, signal: Signal, nanoid: str, *, now: float, threshold: int) -> Transition:
    """The breaker after ``signal`` for ``nanoid``."""
    if signal is Signal.SUCCESS:
        return Transition(CLOSED, CLOSED_EVENT if c.open else None, c.open or bool(c.failing))
    if c.open or signal is Signal.NEUTRAL:
        return Transition(c)
    if signal is Signal.KEY_REJECTED:
        return Transition(_opened(Cause.KEY_REJECTED, now), OPENED, True)
    return _outage(c, nanoid, now=now, threshold=threshold)


def _outage(c: Circuit, nanoid: str, *, now: float, threshold: int) -> Transition:
    if nanoid in c.failing:
        return Transition(c)
    failing = (*c.failing, nanoid)[-threshold:]
    if len(failing) >= threshold:
        return Transition(replace(_opened(Cause.OUTAGE, now), failing=failing), OPENED, True)
    return Transition(replace(c, failing=failing), None, True)


def _opened(cause: Cause, now: float) -> Circuit:
    return Circuit(CircuitState.OPEN, cause, now)


def wait_seconds(*, probe_in: float, interval: float, rand: float) -> float:
    """A held-back rotation's countdown: spread over a quarter to one probe interval (so the
    waiting rotations come back a few at a time, and within one interval of the breaker
    closing), never before the current probe lease ends (``probe_in`` <= ``interval``)."""
    return round(max(probe_in, interval * (0.25 + 0.75 * rand)), 3)


_CAUSES = {
    Cause.KEY_REJECTED: "Composio rejects rotator's API key (401)",
    Cause.OUTAGE: "Composio outage (5xx, timeouts or dropped connections)",
}


def describe(c: Circuit, *, interval: float) -> str:
    """One line for ``status``, ``status --watch`` and ``check``."""
    if not c.open:
        return "closed"
    since = time.strftime("%H:%M:%SZ", time.gmtime(c.opened_at)) if c.opened_at else "?"
    why = _CAUSES.get(c.cause, "unknown cause") if c.cause else "unknown cause"
    return (
        f"OPEN since {since}: {why}; no PATCH goes out but one probe every {interval:g} s, "
        "held rotations resume when it succeeds"
    )


def encode(c: Circuit) -> str:
    """The Redis value: JSON with IDs, a state and a time; no secret ever."""
    return json.dumps(
        {"state": c.state, "cause": c.cause, "opened_at": c.opened_at, "failing": c.failing}
    )


def decode(raw: str | None) -> Circuit:
    """The circuit from its Redis value; missing or garbled reads as closed (fail open)."""
    try:
        data = json.loads(raw) if raw else {}
        state = CircuitState(data.get("state", "closed"))
        cause = Cause(data["cause"]) if data.get("cause") else None
        opened = data.get("opened_at")
        failing = tuple(str(x) for x in data.get("failing") or ())
    except (TypeError, ValueError, AttributeError, KeyError):
        return CLOSED
    at = float(opened) if isinstance(opened, int | float) else None
    return Circuit(state, cause, at, failing)
