"""The one function that sequences a rotation: lock -> read Vault -> plan -> PATCH -> record.

``rotate`` never raises for an expected failure: it returns an ``Outcome`` (succeeded, skipped,
retry_later, failed) and writes exactly one canonical log line for it. Permanent failures also
go to the dead-letter stream; transient ones leave the applied state untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import structlog

from rotator.catalog import Catalog
from rotator.errors import PermanentError, TransientError
from rotator.logs import SECRETS, scrub
from rotator.models import AppliedState, Binding, Outcome, Payload, Plan, Secret, SecretVersion
from rotator.plan import decide, extract_payload, fingerprint
from rotator.state import HeldLock, LastError, StateStore, best_effort

__all__ = ["ComposioPort", "RotationService", "VaultPort"]

log = structlog.get_logger("rotator.rotation")


class VaultPort(Protocol):
    def read_secret(
        self, mount: str, path: str, *, version: int | None = None
    ) -> SecretVersion: ...
    def current_version(self, mount: str, path: str) -> int: ...
    def list_secrets(self, mount: str, prefix: str) -> list[str]: ...


class PatchResultLike(Protocol):
    @property
    def request_id(self) -> str | None: ...
    @property
    def attempts(self) -> int: ...
    @property
    def status(self) -> int: ...


class ComposioPort(Protocol):
    def update_auth_config(self, nanoid: str, payload: Payload) -> PatchResultLike: ...


def _register(payload: Payload) -> None:
    for section in (payload.credentials, payload.shared_credentials):
        for value in (section or {}).values():
            if isinstance(value, Secret):
                SECRETS.register(value.reveal())


class RotationService:
    def __init__(
        self,
        *,
        vault: VaultPort,
        composio: ComposioPort,
        state: StateStore,
        catalog: Catalog,
        fingerprint_key: bytes,
        lock_ttl: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.vault = vault
        self.composio = composio
        self.state = state
        self.catalog = catalog
        self._key = fingerprint_key
        self._lock_ttl = lock_ttl
        self._clock = clock

    def plan(self, binding: Binding, *, force: bool = False, version: int | None = None) -> Plan:
        """What ``rotate`` would do now, with no writes (for ``rotator plan``)."""
        secret = self.vault.read_secret(binding.mount, binding.path, version=version)
        payload = extract_payload(binding, secret)
        _register(payload)
        return decide(
            version=secret.version,
            fingerprint=fingerprint(payload, self._key),
            applied=self.state.get_applied(binding.auth_config_id),
            force=force,
            rollback=version is not None,
        )

    def rotate(self, nanoid: str, *, force: bool = False, version: int | None = None) -> Outcome:
        """Bring one auth config in step with Vault; safe to repeat; one log line per call."""
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(auth_config_id=nanoid)
        try:
            try:
                binding = self.catalog.get(nanoid)
            except TransientError as busy:
                return self._transient(nanoid, None, None, busy, started)
            except PermanentError as ambiguous:  # found at several paths: pushed from none
                return self._failed(nanoid, None, None, ambiguous, started)
            if binding is None:
                unknown = PermanentError(
                    f"{nanoid}: no Vault secret under the discovery prefix and no binding for it"
                )
                return self._failed(nanoid, None, None, unknown, started)
            return self._locked(binding, force=force, version=version, started=started)
        finally:
            structlog.contextvars.unbind_contextvars("auth_config_id", "vault_path")

    def _locked(self, b: Binding, *, force: bool, version: int | None, started: float) -> Outcome:
        structlog.contextvars.bind_contextvars(vault_path=b.vault_path)
        try:
            lock = self.state.lock(b.auth_config_id, ttl=self._lock_ttl)
        except TransientError as exc:
            return self._transient(b.auth_config_id, b, None, exc, started)
        try:
            return self._rotate(b, lock, force=force, version=version, started=started)
        finally:
            best_effort(lock.release)  # an expired lock is simply gone

    def _rotate(
        self, b: Binding, lock: HeldLock, *, force: bool, version: int | None, started: float
    ) -> Outcome:
        secret: SecretVersion | None = None
        try:
            secret = self.vault.read_secret(b.mount, b.path, version=version)
            payload = extract_payload(b, secret)
            _register(payload)
            fp = fingerprint(payload, self._key)
            applied = self.state.get_applied(b.auth_config_id)
            plan = decide(
                version=secret.version,
                fingerprint=fp,
                applied=applied,
                force=force,
                rollback=version is not None,
            )
            if plan.action == "skip":
                return self._skipped(b, plan, started)
            lock.renew()  # the PATCH phase gets the lock's full TTL, whatever Vault took
            result = self.composio.update_auth_config(b.auth_config_id, payload)
        except TransientError as exc:
            return self._transient(b.auth_config_id, b, secret, exc, started)
        except PermanentError as exc:
            return self._failed(b.auth_config_id, b, secret, exc, started)
        applied_now = AppliedState(
            version=secret.version,
            fingerprint=fp,
            applied_at=self._clock(),
            request_id=result.request_id,
            vault_path=b.vault_path,
        )
        outcome = Outcome(
            auth_config_id=b.auth_config_id,
            result="succeeded",
            reason=plan.reason,
            vault_path=b.vault_path,
            vault_version=secret.version,
            attempts=result.attempts,
            http_status=result.status,
            request_id=result.request_id,
            duration_ms=_ms(started),
        )
        best_effort(
            lambda: self.state.record_success(b.auth_config_id, applied_now, audit=_audit(outcome))
        )
        log.info("rotation.succeeded", **_fields(outcome), fields=payload.field_names())
        return outcome

    def give_up(self, last: Outcome) -> Outcome:
        """Retries ran out on a transient failure: dead-letter it and say so (once)."""
        structlog.contextvars.bind_contextvars(auth_config_id=last.auth_config_id)
        outcome = replace(
            last,
            result="failed",
            reason=f"retries exhausted ({last.reason})",
            retry_after=None,
        )
        self._record_error(outcome, "exhausted")
        best_effort(lambda: self.state.dead_letter({**_audit(outcome), "at": self._clock()}))
        log.error("rotation.failed", **_fields(outcome))
        return outcome

    def _skipped(self, b: Binding, plan: Plan, started: float) -> Outcome:
        outcome = Outcome(
            auth_config_id=b.auth_config_id,
            result="skipped",
            reason=plan.reason,
            vault_path=b.vault_path,
            vault_version=plan.version,
            duration_ms=_ms(started),
        )
        log.info("rotation.skipped", **_fields(outcome))
        return outcome

    def _transient(
        self,
        nanoid: str,
        b: Binding | None,
        secret: SecretVersion | None,
        exc: TransientError,
        started: float,
    ) -> Outcome:
        outcome = _error_outcome(nanoid, b, secret, exc, started)
        self._record_error(outcome, "transient")
        log.warning("rotation.retrying", **_fields(outcome))
        return outcome

    def _failed(
        self,
        nanoid: str,
        b: Binding | None,
        secret: SecretVersion | None,
        exc: PermanentError,
        started: float,
    ) -> Outcome:
        outcome = _error_outcome(nanoid, b, secret, exc, started)
        self._record_error(outcome, "permanent")
        best_effort(lambda: self.state.dead_letter({**_audit(outcome), "at": self._clock()}))
        log.error("rotation.failed", **_fields(outcome))
        return outcome

    def _record_error(self, o: Outcome, kind: str) -> None:
        err = LastError(
            kind=kind,
            message=o.error or o.reason,
            at=self._clock(),
            status=o.http_status,
            slug=o.error_slug,
            request_id=o.request_id,
            attempts=o.attempts,
            vault_version=o.vault_version,
        )
        best_effort(lambda: self.state.record_error(o.auth_config_id, err, audit=_audit(o)))


def _error_outcome(
    nanoid: str,
    b: Binding | None,
    secret: SecretVersion | None,
    exc: TransientError | PermanentError,
    started: float,
) -> Outcome:
    """The outcome of a failed attempt: retry_later (transient) or failed (permanent)."""
    transient = isinstance(exc, TransientError)
    fix = exc.suggested_fix if isinstance(exc, PermanentError) else None
    return Outcome(
        auth_config_id=nanoid,
        result="retry_later" if transient else "failed",
        reason=type(exc).__name__,
        vault_path=b.vault_path if b else None,
        vault_version=secret.version if secret else None,
        attempts=getattr(exc, "attempts", 0),
        http_status=exc.status,
        error_slug=exc.slug,
        request_id=exc.request_id,
        retry_after=exc.retry_after if isinstance(exc, TransientError) else None,
        duration_ms=_ms(started),
        error=scrub(str(exc))[:500],
        suggested_fix=scrub(fix)[:300] if fix else None,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _fields(o: Outcome) -> dict[str, object]:
    """The canonical rotation log fields (context vars add auth_config_id and vault_path)."""
    return {
        "outcome": o.result,
        "reason": o.reason,
        "vault_version": o.vault_version,
        "attempt": o.attempts,
        "http_status": o.http_status,
        "error_slug": o.error_slug,
        "request_id": o.request_id,
        "retry_after": o.retry_after,
        "duration_ms": o.duration_ms,
        "error": o.error,
        "suggested_fix": o.suggested_fix,
    }


def _audit(o: Outcome) -> dict[str, object]:
    return {
        "auth_config_id": o.auth_config_id,
        "outcome": o.result,
        "reason": o.reason,
        "vault_path": o.vault_path,
        "vault_version": o.vault_version,
        "http_status": o.http_status,
        "error_slug": o.error_slug,
        "request_id": o.request_id,
        "attempts": o.attempts,
        "error": o.error,
    }
