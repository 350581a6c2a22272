"""The fleet circuit breaker's Redis part: one JSON value (``Keys.circuit``) changed in a WATCH
transaction with the pure ``rotator.core.circuit.step``, and the half-open probe lease
(``Keys.circuit_probe``, SET NX with a TTL: whoever sets it is the one prober).

Fail open like the rate limiter: if Redis does not answer, the breaker reads as closed and a
signal is dropped (logged ``circuit.state_unavailable``); rotations carry on as without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import redis
import structlog

from rotator.core.circuit import CLOSED, Circuit, Signal, Transition, decode, encode, step
from rotator.state.keys import Keys

__all__ = ["CircuitStore"]

log = structlog.get_logger("rotator.circuit")

_TRIES = 8


class CircuitStore:
    """The shared breaker in Redis; every method fails open."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def read(self) -> Circuit:
        """The breaker now (closed when Redis does not answer)."""
        try:
            return decode(cast(str | None, self.redis.get(Keys.circuit)))
        except redis.RedisError as exc:
            _unavailable("read", exc)
            return CLOSED

    def claim_probe(self, ttl: float) -> float:
        """0.0: this caller is the half-open prober for the next ``ttl`` s; else the seconds
        until the current prober's lease ends. Redis down: 0.0 (fail open)."""
        ms = max(int(ttl * 1000), 1)
        try:
            if self.redis.set(Keys.circuit_probe, "1", nx=True, px=ms):
                return 0.0
            left = int(self.redis.pttl(Keys.circuit_probe))
        except redis.RedisError as exc:
            _unavailable("probe", exc)
            return 0.0
        return max(left, 0) / 1000

    def release_probe(self) -> None:
        try:
            self.redis.delete(Keys.circuit_probe)
        except redis.RedisError as exc:
            _unavailable("probe", exc)

    def apply(self, signal: Signal, nanoid: str, *, now: float, threshold: int) -> Transition:
        """Step the shared breaker atomically (WATCH/MULTI, retried on a concurrent change).
        ``event`` is set only in the one process whose write made the change."""
        change: Callable[[Circuit], Transition] = lambda c: step(  # noqa: E731
            c, signal, nanoid, now=now, threshold=threshold
        )
        try:
            return self._transact(change)
        except redis.RedisError as exc:
            _unavailable("write", exc)
            return Transition(CLOSED)

    def _transact(self, change: Callable[[Circuit], Transition]) -> Transition:
        with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(_TRIES):
                try:
                    pipe.watch(Keys.circuit)  # type: ignore[no-untyped-call]
                    t = change(decode(cast(str | None, pipe.get(Keys.circuit))))
                    if not t.changed:
                        pipe.unwatch()
                        return t
                    pipe.multi()
                    pipe.set(Keys.circuit, encode(t.circuit))
                    if not t.circuit.open:
                        pipe.delete(Keys.circuit_probe)
                    pipe.execute()
                    return t
                except redis.WatchError:
                    continue
        return Transition(CLOSED)

    def reset(self) -> None:
        """Close the breaker by hand (tests, an operator's ``redis-cli``-free escape hatch)."""
        self.redis.delete(Keys.circuit, Keys.circuit_probe)


def _unavailable(op: str, exc: redis.RedisError) -> None:
    log.warning("circuit.state_unavailable", op=op, error=type(exc).__name__, fail_open=True)
