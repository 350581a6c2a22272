"""Pure: the signed webhook's vocabulary: which outcomes are announced, the body, the signature,
the backoff between delivery attempts and how long a delivery is kept.

The body is built once, at enqueue, and stored as text: every attempt sends the same bytes with
the same ``X-Rotator-Delivery`` key, so a receiver can verify and de-duplicate. It carries IDs,
a path, a version, statuses and times, never a value. The signature is GitHub's form:
``sha256=<hex HMAC-SHA256 of the raw body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from rotator.core.states import Result

__all__ = [
    "BODY_FIELDS",
    "DELIVERY_HEADER",
    "RETAIN",
    "SIGNATURE_HEADER",
    "Notice",
    "backoff",
    "body_text",
    "event_for",
    "expired",
    "sign",
]

SIGNATURE_HEADER = "X-Rotator-Signature-256"
DELIVERY_HEADER = "X-Rotator-Delivery"
BODY_FIELDS = (
    "event",
    "auth_config_id",
    "project",
    "vault_path",
    "vault_version",
    "outcome",
    "http_status",
    "slug",
    "request_id",
    "at",
)
RETAIN = 3 * 86400.0  # a delivery is retried this long: a receiver down for a day loses nothing
FIRST_RETRY, LONGEST_RETRY = 1.0, 300.0  # seconds: doubling from 1 s, then every 5 min

_FINAL = {
    Result.SUCCEEDED: "succeeded",
    Result.FAILED: "failed",
    Result.UNVERIFIED: "unverified",
}


def event_for(result: Result, *, quarantined: bool) -> str | None:
    """The announced outcome of a final result (None: not announced: skipped, retry_later);
    a failure that put the auth config in quarantine is ``quarantined``."""
    outcome = _FINAL.get(result)
    if outcome == "failed" and quarantined:
        return "quarantined"
    return outcome


@dataclass(frozen=True)
class Notice:
    """One webhook event: ``event`` is ``rotation.<outcome>`` or ``credential.overdue``."""

    event: str
    auth_config_id: str
    project: str
    vault_path: str | None
    vault_version: int | None
    outcome: str
    http_status: int | None
    slug: str | None
    request_id: str | None
    at: str  # RFC 3339, UTC


def body_text(notice: Notice) -> str:
    """The body, as the exact text sent (and signed): compact JSON, fields in ``BODY_FIELDS``
    order, ASCII only."""
    return json.dumps({k: getattr(notice, k) for k in BODY_FIELDS}, separators=(",", ":"))


def sign(key: bytes, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw body with the shared key."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def backoff(attempts: int, rand: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: 1, 2, 4 ... capped at
    300, each up to 10% longer (``rand`` in [0, 1)) so that many waiting deliveries spread out."""
    base = min(LONGEST_RETRY, FIRST_RETRY * 2.0 ** max(0, min(attempts - 1, 30)))
    return base * (1 + 0.1 * rand)


def expired(enqueued: float, now: float) -> bool:
    """Whether a delivery has been retried for ``RETAIN`` and is given up."""
    return now - enqueued > RETAIN
