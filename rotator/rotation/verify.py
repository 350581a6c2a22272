"""Optional verification of a push (``ROTATOR_VERIFY`` / ``rotate --verify``).

Composio's PATCH answer does not carry the updated config and a GET masks secrets, so a proxy's
fake 200 would otherwise count as success. With verification on, ``push`` reads the auth config
before the PATCH and again after it and ``check_view`` requires: the same id, ``status``
ENABLED, a ``last_updated_at`` that differs from the one read before (a GET before, not the
PATCH time: Composio's clock and ours need not agree, and a recent earlier update would hide a
fake 200 inside any tolerance), and every readable field rotator sent (``client_id``,
``consumer_key``) equal to what was sent. Three requests per push instead of one.

Whatever the setting, a 2xx whose body is not ``{"success": true, ...}`` (or ``{}``, older
servers) does not count as a plain success: an error envelope, ``success: false`` or garbage is
"unverified" too. An unverified push is never recorded as applied, so the next sweep pushes it
again (safe: every rotation is idempotent). No message here holds a value, only field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

import structlog

from rotator.core.errors import PermanentError, TransientError
from rotator.core.models import Outcome, Payload, Secret
from rotator.core.states import ErrorKind, Result
from rotator.rotation.outcomes import log_fields
from rotator.rotation.ports import PatchResultLike

__all__ = [
    "READABLE",
    "Readable",
    "VerifiedResult",
    "VerifyingComposio",
    "check_view",
    "record_unverified",
]

log = structlog.get_logger("rotator.rotation")

READABLE = ("client_id", "consumer_key")  # the credentials Composio shows unmasked on GET


class Readable(Protocol):
    def update_auth_config(self, nanoid: str, payload: Payload) -> PatchResultLike: ...
    def get_auth_config(self, nanoid: str) -> dict[str, object]: ...


def _sent(payload: Payload) -> dict[str, str]:
    creds: Mapping[str, object] = payload.credentials or {}
    return {k: v.reveal() for k, v in creds.items() if k in READABLE and isinstance(v, Secret)}


def check_view(
    view: Mapping[str, object], nanoid: str, payload: Payload, before: object
) -> str | None:
    """Why the auth config as read back does not show the push, or None when it does."""
    if view.get("id") != nanoid:
        return "the auth config read back has another id"
    if view.get("status") != "ENABLED":
        return "the auth config is not ENABLED on Composio"
    after = view.get("last_updated_at")
    if not isinstance(after, str) or not after:
        return "the auth config read back has no last_updated_at"
    if after == before:
        return "last_updated_at did not move: the PATCH was not applied"
    shown = view.get("credentials")
    shown = shown if isinstance(shown, Mapping) else {}
    differ = sorted(k for k, v in _sent(payload).items() if shown.get(k) != v)
    if differ:
        return f"Composio shows other values for {', '.join(differ)} than were sent"
    return None


@dataclass(frozen=True)
class VerifiedResult:
    """A PATCH result plus, when the push is not shown to have landed, why (``unverified``)."""

    status: int
    request_id: str | None
    attempts: int
    unverified: str | None


class VerifyingComposio:
    """The Composio port with a GET before and after each PATCH (see the module docstring).

    The GET before raises like the PATCH would (nothing has been sent yet); a failed GET after
    makes the push unverified, not failed: the PATCH itself was accepted."""

    def __init__(self, composio: Readable) -> None:
        self._composio = composio

    def update_auth_config(self, nanoid: str, payload: Payload) -> VerifiedResult:
        before = self._composio.get_auth_config(nanoid).get("last_updated_at")
        result = self._composio.update_auth_config(nanoid, payload)
        problem = getattr(result, "unverified", None)
        if problem is None:
            try:
                view = self._composio.get_auth_config(nanoid)
                problem = check_view(view, nanoid, payload, before)
            except PermanentError as exc:
                problem = f"the auth config could not be read back (HTTP {exc.status})"
            except TransientError as exc:
                problem = f"the auth config could not be read back ({type(exc).__name__})"
        if problem is None:
            log.info("rotation.verified", auth_config_id=nanoid, request_id=result.request_id)
        return VerifiedResult(result.status, result.request_id, result.attempts, problem)


def record_unverified(
    outcome: Outcome, problem: str, record_error: Callable[[Outcome, ErrorKind], None]
) -> Outcome:
    """The push is not shown to have landed: not applied, an error (and audit) entry, one line."""
    outcome = replace(outcome, result=Result.UNVERIFIED, error=problem)
    record_error(outcome, ErrorKind.UNVERIFIED)
    log.error("rotation.unverified", **log_fields(outcome))
    return outcome
