"""The one owner of a rotation's life: pause gate -> lock -> read Vault -> plan -> PATCH ->
record; for a queued rotation also the requeue countdown, the give-up and the dedupe key.

``rotate`` (inline) and ``rotate_queued`` (a Celery delivery) return an ``Outcome`` and write
exactly one canonical log line; a paused, non-forced rotation is an audited skip in every path.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import structlog

from rotator.core.errors import PermanentError, StateUnavailable, TransientError
from rotator.core.models import AppliedState, Binding, Outcome, Payload, Plan, SecretVersion
from rotator.core.plan import decide, extract_payload, fingerprint
from rotator.core.retry import RetryBudget, requeue_delay
from rotator.core.states import ErrorKind, Result
from rotator.core.trigger import Trigger, current_trigger
from rotator.rotation.breaker import WAIT_REASON, Breaker, Hold, held
from rotator.rotation.catalog import Catalog
from rotator.rotation.outcomes import (
    audit_entry,
    error_outcome,
    last_error,
    log_fields,
    register_values,
    since_ms,
)
from rotator.rotation.ports import ComposioPort, PatchResultLike, VaultPort
from rotator.rotation.preview import Previewer
from rotator.rotation.verify import record_unverified, refutation
from rotator.state.lock import Begun, HeldLock, best_effort
from rotator.state.store import StateStore

__all__ = ["RotationService"]

log = structlog.get_logger("rotator.rotation")


class RotationService:
    def __init__(
        self,
        *,
        vault: VaultPort,
        composio: ComposioPort,
        state: StateStore,
        catalog: Catalog,
        fingerprint_key: bytes,
        lock_ttl: float,
        budget: RetryBudget,
        max_retries: int,
        queue_ttl: float,
        breaker: Breaker,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        announce: Callable[[Outcome], None] = lambda _o: None,
    ) -> None:
        """``queue_ttl``: a dedupe key's life past the countdown; ``max_retries``: requeues;
        ``announce``: given every outcome returned (the webhook queues the final ones)."""
        self.vault = vault
        self.composio = composio
        self.state = state
        self.catalog = catalog
        self._key = fingerprint_key
        self.preview = Previewer(vault, fingerprint_key)
        self._lock_ttl = lock_ttl
        self._budget = budget
        self._max_retries = max_retries
        self._queue_ttl = queue_ttl
        self._clock = clock
        self._rand = rand
        self.breaker = breaker
        self.announce = announce

    def plan(self, binding: Binding, applied: AppliedState | None, *, force: bool = False) -> Plan:
        """What ``rotate`` would do now against ``applied`` (read by the caller), no writes."""
        return self.preview.plan(binding, applied, force=force)

    def rotate(self, nanoid: str, *, force: bool = False, version: int | None = None) -> Outcome:
        """Inline (CLI, replay, demo): the pause gate, then one attempt; safe to repeat."""
        outcome = self._gated(nanoid, _Call(force, version, retries=0))
        self.announce(outcome)
        return outcome

    def rotate_queued(
        self, nanoid: str, *, force: bool, version: int | None, retries: int, hold: bool = True
    ) -> Outcome:
        """One Celery delivery (``retries`` requeues so far). ``retry_later``: requeue in
        ``retry_in`` s (the dedupe key outlives that); any other outcome is final (retries ran
        out: dead-lettered) and releases the dedupe key. ``hold``: wait here while the open
        breaker holds the PATCH back (a batch's entry requeues at once)."""

        def attempt() -> Outcome:
            return self._gated(nanoid, _Call(force, version, retries))

        outcome = self.breaker.blocking(attempt) if hold else attempt()
        if outcome.result is Result.RETRY_LATER:
            if retries < self._max_retries or outcome.reason == WAIT_REASON:
                ttl = self._queue_ttl + (outcome.retry_in or 0.0)
                best_effort(lambda: self.state.extend_queue(nanoid, ttl=ttl))
                return outcome
            outcome = self.give_up(outcome)
        if outcome.result is not Result.SUCCEEDED:  # a success released it with its record
            best_effort(lambda: self.state.release_queue(nanoid))
        self.announce(outcome)  # final: the webhook's outbox (one Redis write, no waiting)
        return outcome

    def _gated(self, nanoid: str, call: _Call) -> Outcome:
        structlog.contextvars.bind_contextvars(auth_config_id=nanoid)
        begun: Begun | None = None
        try:
            try:  # one round trip: paused?, the lock, the applied state
                begun = self.state.begin(nanoid, ttl=self._lock_ttl)
            except StateUnavailable as exc:  # paused or not is unknown: push nothing, retry
                return self._later(error_outcome(nanoid, None, None, exc, call.started), exc, call)
            if begun.paused and not (call.force and current_trigger() is not Trigger.RESYNC):
                return self._paused(nanoid, call)
            return self._attempt(nanoid, begun, call)
        finally:
            if begun is not None and begun.lock is not None:
                best_effort(begun.lock.release)  # an expired lock is simply gone
            structlog.contextvars.unbind_contextvars("auth_config_id", "vault_path")

    def _attempt(self, nanoid: str, begun: Begun, call: _Call) -> Outcome:
        try:
            binding = self.catalog.get(nanoid)
        except TransientError as busy:
            return self._transient(nanoid, None, None, busy, call)
        except PermanentError as unbound:  # unknown, or found at several paths: none pushed
            return self._failed(nanoid, None, None, unbound, call)
        structlog.contextvars.bind_contextvars(vault_path=binding.vault_path)
        try:
            lock = begun.held()
        except TransientError as exc:
            return self._transient(nanoid, binding, None, exc, call)
        return self._rotate(binding, lock, begun, call)

    def _paused(self, nanoid: str, call: _Call) -> Outcome:
        """A paused, non-forced rotation: nothing read, nothing pushed; logged and audited."""
        started = call.started
        outcome = Outcome(nanoid, Result.SKIPPED, "paused", duration_ms=since_ms(started))
        best_effort(lambda: self.state.audit({**audit_entry(outcome), "at": self._clock()}))
        log.info("rotation.skipped", **log_fields(outcome))
        return outcome

    def _rotate(self, b: Binding, lock: HeldLock, begun: Begun, call: _Call) -> Outcome:
        secret: SecretVersion | None = None
        if (gate := self.breaker.admit(begun.circuit)).wait is not None:  # open: no read, no PATCH
            return held(b, None, Hold(gate.wait), call.started)
        try:
            secret = self.vault.read_secret(b.mount, b.path, version=call.version)
            payload = extract_payload(b, secret)
            register_values(payload)
            fp = fingerprint(payload, self._key)
            plan = decide(
                version=secret.version,
                fingerprint=fp,
                applied=begun.applied,
                force=call.force,
                rollback=call.version is not None,
                created=secret.created_time,
            )
            if plan.action == "skip":
                self.breaker.release(gate)
                return self._skipped(b, plan, call)
            # the PATCH phase gets at least 2/3 of the lock's TTL, whatever Vault took (a lock
            # taken moments ago is not renewed: one round trip fewer; KEEPER renews it anyway)
            lock.renew(if_older_than=self._lock_ttl / 3)
            result = self.breaker.guard(gate, self.composio, b.auth_config_id, payload)
            if isinstance(result, Hold):
                return held(b, secret, result, call.started)
        except TransientError as exc:
            return self._transient(b.auth_config_id, b, secret, exc, call)
        except PermanentError as exc:
            return self._failed(b.auth_config_id, b, secret, exc, call)
        return self._succeeded(b, lock, (secret, payload, fp, plan), result=result, call=call)

    def _succeeded(
        self,
        b: Binding,
        lock: HeldLock,
        pushed: tuple[SecretVersion, Payload, str, Plan],
        *,
        result: PatchResultLike,
        call: _Call,
    ) -> Outcome:
        secret, payload, fp, plan = pushed
        applied_now = AppliedState(
            *(secret.version, fp, self._clock(), result.request_id),
            vault_path=b.vault_path,
            binding=self.preview.bound(b),
            vault_created=secret.created_time,
        )
        outcome = Outcome(
            auth_config_id=b.auth_config_id,
            result=Result.SUCCEEDED,
            reason=plan.reason,
            vault_path=b.vault_path,
            vault_version=secret.version,
            attempts=result.attempts,
            http_status=result.status,
            request_id=result.request_id,
            duration_ms=since_ms(call.started),
        )
        if unverified := getattr(result, "unverified", None):  # not shown to have landed
            if getattr(result, "refuted", False):  # shown not to be in effect: fails for good
                return self._failed(
                    b.auth_config_id, b, secret, refutation(result, unverified), call
                )
            return record_unverified(outcome, unverified, self._record_error)
        audit = audit_entry(outcome)
        record = self.state.record_success  # with the lock's release: one round trip
        best_effort(lambda: record(b.auth_config_id, applied_now, audit=audit, release=lock))
        log.info("rotation.succeeded", **log_fields(outcome), fields=payload.field_names())
        return outcome

    def give_up(self, last: Outcome) -> Outcome:
        """Retries ran out on a transient failure: dead-letter it and say so (once)."""
        structlog.contextvars.bind_contextvars(auth_config_id=last.auth_config_id)
        outcome = replace(
            last,
            result=Result.FAILED,
            reason=f"retries exhausted ({last.reason})",
            retry_in=None,
        )
        self._record_error(outcome, ErrorKind.EXHAUSTED)
        best_effort(lambda: self.state.dead_letter({**audit_entry(outcome), "at": self._clock()}))
        log.error("rotation.failed", **log_fields(outcome))
        return outcome

    def _skipped(self, b: Binding, plan: Plan, call: _Call) -> Outcome:
        outcome = Outcome(
            auth_config_id=b.auth_config_id,
            result=Result.SKIPPED,
            reason=plan.reason,
            vault_path=b.vault_path,
            vault_version=plan.version,
            duration_ms=since_ms(call.started),
        )
        log.info("rotation.skipped", **log_fields(outcome))
        return outcome

    def _transient(
        self,
        nanoid: str,
        b: Binding | None,
        secret: SecretVersion | None,
        exc: TransientError,
        call: _Call,
    ) -> Outcome:
        outcome = error_outcome(nanoid, b, secret, exc, call.started)
        self._record_error(outcome, ErrorKind.TRANSIENT)
        return self._later(outcome, exc, call)

    def _later(self, outcome: Outcome, exc: TransientError, call: _Call) -> Outcome:
        """Decide when to try again (the one countdown, from the policy) and log it."""
        retry_in = requeue_delay(
            call.retries,
            server_wait=exc.server_wait,
            earliest=exc.earliest,
            budget=self._budget,
            rand=self._rand,
        )
        outcome = replace(outcome, retry_in=round(retry_in, 3))
        log.warning("rotation.retrying", **log_fields(outcome))
        return outcome

    def _failed(
        self,
        nanoid: str,
        b: Binding | None,
        secret: SecretVersion | None,
        exc: PermanentError,
        call: _Call,
    ) -> Outcome:
        outcome = error_outcome(nanoid, b, secret, exc, call.started)
        self._record_error(outcome, ErrorKind.PERMANENT, secret.created_time if secret else None)
        best_effort(lambda: self.state.dead_letter({**audit_entry(outcome), "at": self._clock()}))
        log.error("rotation.failed", **log_fields(outcome))
        return outcome

    def _record_error(self, o: Outcome, kind: ErrorKind, created: str | None = None) -> None:
        err = last_error(o, kind, at=self._clock(), created=created)
        audit = audit_entry(o)
        best_effort(lambda: self.state.record_error(o.auth_config_id, err, audit=audit))


@dataclass(frozen=True)
class _Call:
    """One rotation call's arguments and start time, passed down the steps."""

    force: bool
    version: int | None
    retries: int
    started: float = field(default_factory=time.perf_counter)
