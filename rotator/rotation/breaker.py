"""The fleet circuit breaker around one PATCH: ``admit`` before it, ``succeeded`` / ``failed``
after it. The rules are ``rotator.core.circuit``'s (pure); the shared state is
``rotator.state.circuit``'s (Redis, fail open). This module logs the two fleet events, each once
per change (only the process whose write changed the breaker logs it):
``composio.circuit_open`` (with ``cause``) and ``composio.circuit_closed``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from rotator.core.circuit import (
    WAIT_REASON,
    Circuit,
    Signal,
    Transition,
    classify,
    describe,
    wait_seconds,
)
from rotator.core.errors import (
    ComposioRejected,
    ComposioUnavailable,
    PermanentError,
    RotatorError,
    TransientError,
)
from rotator.core.models import Binding, Outcome, Payload, SecretVersion
from rotator.core.states import Result
from rotator.observability.logs import scrub
from rotator.rotation.outcomes import log_fields, since_ms
from rotator.rotation.ports import ComposioPort, PatchResultLike
from rotator.state.circuit import CircuitStore

__all__ = ["WAIT_REASON", "Admission", "Breaker", "Hold", "held"]

log = structlog.get_logger("rotator.circuit")


@dataclass(frozen=True)
class Admission:
    """May this PATCH go out? ``wait`` is None when it may (``probe``: as the half-open probe);
    otherwise the countdown before this rotation asks again. ``seen``: the circuit as read."""

    seen: Circuit
    wait: float | None = None
    probe: bool = False


@dataclass(frozen=True)
class Hold:
    """The open breaker held this PATCH back (``exc``: the fleet failure it met, if it went
    out); ask again in ``wait`` s."""

    wait: float
    exc: TransientError | PermanentError | None = None


class Breaker:
    """One per process; the state is shared through Redis by every worker and CLI process."""

    def __init__(
        self,
        store: CircuitStore,
        *,
        threshold: int,
        probe_interval: float,
        hold_max: float = 300.0,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """``hold_max``: how long a queued rotation may wait in its worker thread before it
        goes back to the broker with a countdown (kept far below the visibility timeout)."""
        self.store = store
        self._threshold = threshold
        self._interval = probe_interval
        self._hold_max = hold_max
        self._clock = clock
        self._rand = rand
        self.stopping = threading.Event()  # set when the worker shuts down: stop holding

    def blocking(self, attempt: Callable[[], Outcome]) -> Outcome:
        """A queued rotation: while the open breaker holds it back, wait in this worker thread
        (the rest stay in the queue, costing nothing), watching the shared state, and try again
        when it closes or the probe lease ends; after ``hold_max`` (or on shutdown) return the
        hold, and the task requeues it as a breaker wait."""
        deadline = time.monotonic() + self._hold_max
        outcome = attempt()
        while outcome.reason == WAIT_REASON and outcome.result is Result.RETRY_LATER:
            left = deadline - time.monotonic()
            if left <= 0 or not self._pause(min(left, outcome.retry_in or self._interval)):
                break
            outcome = attempt()
        return outcome

    def _pause(self, up_to: float) -> bool:
        """Sleep up to ``up_to`` s, polling the breaker each second; False on shutdown."""
        end = time.monotonic() + up_to
        while (left := end - time.monotonic()) > 0:
            if self.stopping.wait(min(1.0, left)):
                return False
            if not self.store.read().open:
                return True
        return True

    def describe(self) -> str:
        """The shared breaker in one line ("closed", or why and since when it is open)."""
        return describe(self.store.read(), interval=self._interval)

    def check(self) -> str:
        """For ``rotator check``: "closed", or a failure naming why it is open."""
        if (line := self.describe()) != "closed":
            raise RotatorError(f"circuit breaker {line}")
        return line

    def admit(self, seen: Circuit | None = None) -> Admission:
        """Closed: go. Open: go as the probe if this process wins the lease, else wait.
        ``seen``: the breaker as just read with other state (else it is read here)."""
        seen = self.store.read() if seen is None else seen
        if not seen.open:
            return Admission(seen)
        probe_in = self.store.claim_probe(self._interval)
        if probe_in <= 0:
            log.info("composio.circuit_probe", cause=seen.cause)
            return Admission(seen, probe=True)
        return Admission(seen, wait=self._wait(probe_in))

    def release(self, gate: Admission) -> None:
        """The probe found nothing to push: let the next waiting rotation probe."""
        if gate.probe:
            self.store.release_probe()

    def guard(
        self, gate: Admission, composio: ComposioPort, nanoid: str, payload: Payload
    ) -> PatchResultLike | Hold:
        """Send one PATCH admitted by ``admit``: its result, or a ``Hold`` when the PATCH met
        a fleet failure (the rotation waits). Per-config failures raise as they are."""
        try:
            result = composio.update_auth_config(nanoid, payload)
        except (TransientError, PermanentError) as exc:
            if (wait := self.failed(nanoid, exc)) is None:
                raise
            return Hold(wait, exc)
        self.succeeded(nanoid, gate)
        return result

    def succeeded(self, nanoid: str, admission: Admission) -> None:
        """A 2xx: closes an open breaker and clears the outage count (no write when neither)."""
        if admission.seen.open or admission.seen.failing or admission.probe:
            self._apply(Signal.SUCCESS, nanoid)

    def failed(self, nanoid: str, exc: TransientError | PermanentError) -> float | None:
        """A failed PATCH call. Returns the countdown when the failure is the fleet's (the
        rotation waits, it is not failed and spends no retry), None when it is this config's."""
        if not isinstance(exc, ComposioUnavailable | ComposioRejected):
            return None
        signal = classify(
            ok=False,
            transient=isinstance(exc, TransientError),
            status=exc.status,
            slug=exc.slug,
            own_wait=isinstance(exc, TransientError) and exc.earliest is not None,
        )
        if signal is Signal.NEUTRAL:
            return None
        if not self._apply(signal, nanoid).circuit.open and signal is Signal.OUTAGE:
            return None
        return self._wait(self.store.claim_probe(self._interval) or self._interval)

    def _wait(self, probe_in: float) -> float:
        return wait_seconds(probe_in=probe_in, interval=self._interval, rand=self._rand())

    def _apply(self, signal: Signal, nanoid: str) -> Transition:
        t = self.store.apply(signal, nanoid, now=self._clock(), threshold=self._threshold)
        if t.event is not None and t.circuit.open:
            log.error(
                t.event,
                cause=t.circuit.cause,
                auth_configs=list(t.circuit.failing) or [nanoid],
                threshold=self._threshold,
                probe_interval=self._interval,
            )
        elif t.event is not None:
            log.warning(t.event, probe_auth_config_id=nanoid)
        return t


def held(b: Binding, secret: SecretVersion | None, hold: Hold, started: float) -> Outcome:
    """A rotation the open breaker holds back: ``retry_later`` with ``reason=circuit_open``, no
    error recorded, no dead letter, no retry spent; logged ``rotation.waiting``."""
    exc = hold.exc
    outcome = Outcome(
        auth_config_id=b.auth_config_id,
        result=Result.RETRY_LATER,
        reason=WAIT_REASON,
        vault_path=b.vault_path,
        vault_version=secret.version if secret else None,
        attempts=exc.attempts if exc else 0,
        http_status=exc.status if exc else None,
        error_slug=exc.slug if exc else None,
        request_id=exc.request_id if exc else None,
        retry_in=hold.wait,
        duration_ms=since_ms(started),
        error=scrub(str(exc))[:500] if exc else None,
    )
    log.info("rotation.waiting", **log_fields(outcome))
    return outcome
