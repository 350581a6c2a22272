"""Building outcomes and their log and audit fields: pure functions over ``Outcome``.

The canonical rotation log line and the audit entry name the same facts; both are built here so
the service only sequences I/O.
"""

from __future__ import annotations

import time

from rotator.core.errors import PermanentError, TransientError
from rotator.core.models import Binding, LastError, Outcome, Payload, Secret, SecretVersion
from rotator.core.states import ErrorKind, Result
from rotator.core.trigger import current_trigger
from rotator.observability.logs import SECRETS, scrub

__all__ = [
    "audit_entry",
    "error_outcome",
    "last_error",
    "log_fields",
    "register_values",
    "since_ms",
]


def error_outcome(
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
        result=Result.RETRY_LATER if transient else Result.FAILED,
        reason=type(exc).__name__,
        vault_path=b.vault_path if b else None,
        vault_version=secret.version if secret else None,
        attempts=exc.attempts,
        http_status=exc.status,
        error_slug=exc.slug,
        request_id=exc.request_id,
        server_wait=exc.server_wait if isinstance(exc, TransientError) else None,
        duration_ms=since_ms(started),
        error=scrub(str(exc))[:500],
        suggested_fix=scrub(fix)[:300] if fix else None,
    )


def since_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading), rounded to 0.1."""
    return round((time.perf_counter() - started) * 1000, 1)


def log_fields(o: Outcome) -> dict[str, object]:
    """The canonical rotation log fields (context vars add auth_config_id and vault_path)."""
    return {
        "outcome": o.result,
        "reason": o.reason,
        "vault_version": o.vault_version,
        "attempt": o.attempts,
        "http_status": o.http_status,
        "error_slug": o.error_slug,
        "request_id": o.request_id,
        "server_wait": o.server_wait,
        "retry_in": o.retry_in,
        "duration_ms": o.duration_ms,
        "error": o.error,
        "suggested_fix": o.suggested_fix,
    }


def audit_entry(o: Outcome) -> dict[str, object]:
    """The audit (and dead-letter) stream's fields for one outcome: IDs and statuses only, and
    what triggered the rotation."""
    return {
        "trigger": current_trigger(),
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


def register_values(payload: Payload) -> None:
    """Every secret value of a payload joins the log redaction before anything is logged."""
    for section in (payload.credentials, payload.shared_credentials):
        for value in (section or {}).values():
            if isinstance(value, Secret):
                SECRETS.register(value.reveal())


def last_error(o: Outcome, kind: ErrorKind, *, at: float, created: str | None = None) -> LastError:
    """What ``rotator status`` keeps of a failed attempt (no value: the error text is scrubbed);
    ``created``: the failed version's creation time, when it was read."""
    return LastError(
        kind=kind,
        message=o.error or o.reason,
        at=at,
        status=o.http_status,
        slug=o.error_slug,
        request_id=o.request_id,
        attempts=o.attempts,
        vault_version=o.vault_version,
        vault_created=created,
    )
