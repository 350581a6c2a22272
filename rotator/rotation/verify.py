"""Optional verification of a push (``ROTATOR_VERIFY`` / ``rotate --verify``).

Composio's PATCH answer does not carry the updated config and a GET masks secrets, so a proxy's
fake 200 would otherwise count as success. With verification on, ``push`` reads the auth config
before the PATCH and again after it and ``check_view`` requires: the same id, ``status``
ENABLED, a ``last_updated_at`` later than the one read before, both RFC 3339 timestamps (a GET
before, not the PATCH time: Composio's clock and ours need not agree, and a recent earlier
update would hide a fake 200 inside any tolerance; a missing, unreadable or earlier time proves
nothing), and every readable field rotator sent (``client_id``, ``consumer_key``) equal to what
was sent. Three requests per push instead of one.

A push the read-back refutes (any of those checks, or a read-back Composio refuses with a 4xx)
fails permanently (``VerificationFailed``): a dead-letter entry, and quarantine after the usual
count of failures at one Vault version, instead of a PATCH at every sweep for ever. A push that
cannot be shown either way (the read-back timed out) is "unverified": never recorded as
applied, so the next sweep pushes it again (safe: every rotation is idempotent). Whatever the
setting, a 2xx whose body is not ``{"success": true, ...}`` (or ``{}``, older servers) does not
count as a plain success: an error envelope, ``success: false`` or garbage is "unverified" too.
No message here holds a value, only field names.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

import structlog

from rotator.core.errors import PermanentError, TransientError, VerificationFailed
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
    "moment",
    "record_unverified",
    "refutation",
]

log = structlog.get_logger("rotator.rotation")

READABLE = ("client_id", "consumer_key")  # the credentials Composio shows unmasked on GET
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)?")


class Readable(Protocol):
    def update_auth_config(self, nanoid: str, payload: Payload) -> PatchResultLike: ...
    def get_auth_config(self, nanoid: str) -> dict[str, object]: ...


def _sent(payload: Payload) -> dict[str, str]:
    creds: Mapping[str, object] = payload.credentials or {}
    return {k: v.reveal() for k, v in creds.items() if k in READABLE and isinstance(v, Secret)}


def moment(raw: object) -> dt.datetime | None:
    """``raw`` as a point in time when it is an RFC 3339 timestamp (UTC when it names no zone),
    else None: anything else read back proves nothing."""
    if not isinstance(raw, str) or _TIME.fullmatch(raw) is None:
        return None
    try:
        at = dt.datetime.fromisoformat(raw)
    except ValueError:  # a month 13, a second 61
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _moved(before: object, after: object) -> str | None:
    """Why ``last_updated_at`` read after the PATCH does not show an update since ``before``."""
    if (later := moment(after)) is None:
        return "the auth config read back has no readable last_updated_at"
    if (earlier := moment(before)) is None:
        return "the auth config read before the PATCH had no readable last_updated_at"
    if later <= earlier:
        return "last_updated_at did not move forward: the PATCH was not applied"
    return None


def check_view(
    view: Mapping[str, object], nanoid: str, payload: Payload, before: object
) -> str | None:
    """Why the auth config as read back does not show the push, or None when it does."""
    if view.get("id") != nanoid:
        return "the auth config read back has another id"
    if view.get("status") != "ENABLED":
        return "the auth config is not ENABLED on Composio"
    if (problem := _moved(before, view.get("last_updated_at"))) is not None:
        return problem
    shown = view.get("credentials")
    shown = shown if isinstance(shown, Mapping) else {}
    differ = sorted(k for k, v in _sent(payload).items() if shown.get(k) != v)
    if differ:
        return f"Composio shows other values for {', '.join(differ)} than were sent"
    return None


@dataclass(frozen=True)
class VerifiedResult:
    """A PATCH result plus, when the push is not shown to have landed, why (``unverified``);
    ``refuted``: the read-back shows it is not in effect (it fails permanently)."""

    status: int
    request_id: str | None
    attempts: int
    unverified: str | None
    refuted: bool = False


class VerifyingComposio:
    """The Composio port with a GET before and after each PATCH (see the module docstring).

    The GET before raises like the PATCH would (nothing has been sent yet); a failed GET after
    makes the push unverified, not failed: the PATCH itself was accepted."""

    def __init__(self, composio: Readable) -> None:
        self._composio = composio

    def update_auth_config(self, nanoid: str, payload: Payload) -> VerifiedResult:
        before = self._composio.get_auth_config(nanoid).get("last_updated_at")
        result = self._composio.update_auth_config(nanoid, payload)
        problem, refuted = getattr(result, "unverified", None), False
        if problem is None:
            try:
                view = self._composio.get_auth_config(nanoid)
                problem = check_view(view, nanoid, payload, before)
                refuted = problem is not None
            except PermanentError as exc:
                problem = f"the auth config could not be read back (HTTP {exc.status})"
                refuted = True
            except TransientError as exc:
                problem = f"the auth config could not be read back ({type(exc).__name__})"
        if problem is None:
            log.info("rotation.verified", auth_config_id=nanoid, request_id=result.request_id)
        return VerifiedResult(
            result.status, result.request_id, result.attempts, problem, refuted=refuted
        )


def refutation(result: PatchResultLike, problem: str) -> VerificationFailed:
    """The permanent failure of a push the read-back refutes (``VerifiedResult.refuted``)."""
    return VerificationFailed(
        f"verification: {problem}",
        result.status,
        None,
        result.request_id,
        suggested_fix="check the auth config on Composio (enabled, the values it shows); a new "
        "Vault version or `rotator rotate --force` pushes it again",
        attempts=result.attempts,
    )


def record_unverified(
    outcome: Outcome, problem: str, record_error: Callable[[Outcome, ErrorKind], None]
) -> Outcome:
    """The push is not shown to have landed: not applied, an error (and audit) entry, one line."""
    outcome = replace(outcome, result=Result.UNVERIFIED, error=problem)
    record_error(outcome, ErrorKind.UNVERIFIED)
    log.error("rotation.unverified", **log_fields(outcome))
    return outcome
