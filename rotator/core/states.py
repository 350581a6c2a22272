"""The state vocabularies, as ``StrEnum``s: a rotation's result, a recorded error's kind, a status
row's state and the sweep's decision. No I/O here.

Each member's value is its wire form (JSON results, log fields, Redis values), byte for byte what
the plain strings were, and a ``StrEnum`` is a ``str``, so serialisers need nothing special.
"""

from __future__ import annotations

import enum

__all__ = ["CircuitState", "ErrorKind", "Result", "RowState", "SweepAction"]


class Result(enum.StrEnum):
    """How one rotation call ended."""

    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    RETRY_LATER = "retry_later"
    FAILED = "failed"
    UNVERIFIED = "unverified"  # a 2xx, but Composio does not show the push (see verify.py)

    @property
    def ok(self) -> bool:
        """Nothing for an operator to do: pushed, or nothing to push (in step, paused)."""
        return self in (Result.SUCCEEDED, Result.SKIPPED)


class ErrorKind(enum.StrEnum):
    """What the last recorded error of an auth config was."""

    TRANSIENT = "transient"  # it will be retried
    PERMANENT = "permanent"  # a human must act (counts towards quarantine)
    EXHAUSTED = "exhausted"  # transient, but the retries ran out: dead-lettered
    UNVERIFIED = "unverified"  # a 2xx Composio does not show: pushed again by the next sweep

    @property
    def final(self) -> bool:
        """No retry is coming: the auth config stays failed until something changes."""
        return self not in (ErrorKind.TRANSIENT, ErrorKind.UNVERIFIED)


class RowState(enum.StrEnum):
    """One auth config's state in ``rotator status``."""

    SYNCED = "synced"
    PENDING = "pending"
    RETRYING = "retrying"
    FAILED = "failed"
    UNKNOWN = "unknown"
    QUARANTINED = "quarantined"
    PAUSED = "paused"
    AMBIGUOUS = "ambiguous"  # one nanoid at several Vault paths: pushed from none
    UNVERIFIED = "unverified"  # the last push got a 2xx that Composio does not show


class SweepAction(enum.StrEnum):
    """The sweep's decision for one auth config; the skips say why, so nobody parses reasons."""

    QUEUE = "queue"
    IN_STEP = "in_step"
    PAUSED = "paused"
    QUARANTINED = "quarantined"


class CircuitState(enum.StrEnum):
    """The fleet circuit breaker's state (``rotator.core.circuit``)."""

    CLOSED = "closed"  # PATCHes go out
    OPEN = "open"  # none go out but one half-open probe per probe interval
