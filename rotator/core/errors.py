"""The exception tree of rotator.

The first split answers the only question a worker asks: try again, or not::

    RotatorError
    ├── ConfigError                 settings or bindings are wrong: exit 2 at start-up
    ├── TransientError              try again later; carries ``server_wait`` and ``earliest``
    │   ├── VaultUnavailable        Vault sealed, down, timing out, or 5xx
    │   ├── ComposioUnavailable     Composio 5xx/429/timeouts after the in-call budget
    │   ├── StateUnavailable        Redis (state store) did not answer
    │   └── LockBusy                another process holds this auth config's lock
    └── PermanentError              a human must act; carries status, slug, request_id, detail
        ├── SecretFormatError       the Vault secret is malformed (names the path and the field)
        ├── SecretNotFound          no secret (or no such version) at the Vault path
        ├── AmbiguousSource         one nanoid found at several Vault paths: pushed from none
        ├── VaultAccessDenied       the Vault token may not read the path
        ├── ComposioRejected        Composio answered 4xx (400, 401/403 after re-auth, 404, 422)
        └── VerificationFailed      a 2xx push that reading back shows not to be in effect

Adapters translate their library's errors once, with ``raise ... from exc``. Messages never
contain secret material: they name paths, fields, statuses and slugs, never values.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousSource",
    "ComposioRejected",
    "ComposioUnavailable",
    "ConfigError",
    "LockBusy",
    "PermanentError",
    "RotatorError",
    "SecretFormatError",
    "SecretNotFound",
    "StateUnavailable",
    "TransientError",
    "VaultAccessDenied",
    "VaultUnavailable",
    "VerificationFailed",
]


class RotatorError(Exception):
    """Base of every error rotator raises on purpose."""


class ConfigError(RotatorError):
    """Settings or bindings are invalid; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str] | str) -> None:
        items = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(items)
        self.problems = items

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"invalid configuration: {self.problems[0]}"
        return "invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems)


class TransientError(RotatorError):
    """Try again later.

    Two different waits, never mixed: ``server_wait`` is what the server asked for
    (``Retry-After``), ``earliest`` is rotator's own earliest next attempt (its rate limiter's
    next slot, a busy lock). Neither is the requeue countdown: ``policy.requeue_delay`` decides
    that, with both as floors. ``attempts`` counts the HTTP attempts made in the call.
    """

    def __init__(
        self,
        message: str,
        server_wait: float | None = None,
        status: int | None = None,
        slug: str | None = None,
        request_id: str | None = None,
        *,
        earliest: float | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message, server_wait, status, slug, request_id)
        self.message = message
        self.server_wait = server_wait
        self.earliest = earliest
        self.status = status
        self.slug = slug
        self.request_id = request_id
        self.attempts = attempts

    @property
    def retry_after(self) -> float | None:
        """The soonest the next attempt may start: the later of the two waits (None: no floor)."""
        waits = [w for w in (self.server_wait, self.earliest) if w is not None]
        return max(waits) if waits else None

    def __str__(self) -> str:
        return self.message


class VaultUnavailable(TransientError):
    """Vault could not answer (down, sealed, timing out, 5xx)."""


class ComposioUnavailable(TransientError):
    """Composio could not take the update now (5xx, 429, timeouts) after the in-call budget."""


class StateUnavailable(TransientError):
    """Redis, the state store, did not answer."""


class LockBusy(TransientError):
    """Another process is rotating this auth config right now."""


class PermanentError(RotatorError):
    """A human must act; retrying will not help."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        slug: str | None = None,
        request_id: str | None = None,
        suggested_fix: str | None = None,
        *,
        attempts: int = 0,
    ) -> None:
        super().__init__(message, status, slug, request_id, suggested_fix)
        self.message = message
        self.status = status
        self.slug = slug
        self.request_id = request_id
        self.suggested_fix = suggested_fix
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message


class SecretFormatError(PermanentError):
    """The Vault secret does not have the shape rotator needs."""


class SecretNotFound(PermanentError):
    """Nothing (or not that version) is stored at the Vault path."""


class AmbiguousSource(PermanentError):
    """One nanoid was discovered at several Vault paths: fail closed until a binding pins one."""


class VaultAccessDenied(PermanentError):
    """The Vault token is not allowed to read the path (and logging in again did not help)."""


class ComposioRejected(PermanentError):
    """Composio refused the update with a 4xx that retrying will not change."""


class VerificationFailed(PermanentError):
    """Composio took the PATCH (2xx), but reading the auth config back shows the push is not in
    effect (disabled, unchanged, other values): pushing it again would not change that."""
