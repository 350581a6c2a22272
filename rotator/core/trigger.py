"""What started a rotation, carried into its audit entry (``rotator history`` shows it).

The caller sets it once around the work (``triggered_by``); ``audit_entry`` reads it. A context
variable keeps ``RotationService``'s signatures unchanged, and a Celery task's ``trigger`` kwarg
is optional so that ``send_task`` callers that never heard of it stay compatible.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum

__all__ = ["Trigger", "current_trigger", "parse_trigger", "triggered_by"]


class Trigger(StrEnum):
    SWEEP = "sweep"  # the beat sweep saw a new Vault version
    RESYNC = "resync"  # the sweep's periodic forced re-sync
    CLI = "cli"  # rotator rotate
    SEND_TASK = "send_task"  # another service queued rotator.rotate
    REPLAY = "replay"  # rotator dlq replay


_CURRENT: ContextVar[Trigger] = ContextVar("rotator_trigger", default=Trigger.SEND_TASK)


def current_trigger() -> Trigger:
    return _CURRENT.get()


def parse_trigger(raw: object) -> Trigger:
    """A task kwarg from the wire: a known trigger, else ``send_task`` (absent or unknown)."""
    known = {t.value: t for t in Trigger}
    return known.get(raw, Trigger.SEND_TASK) if isinstance(raw, str) else Trigger.SEND_TASK


@contextmanager
def triggered_by(trigger: Trigger) -> Iterator[None]:
    token = _CURRENT.set(trigger)
    try:
        yield
    finally:
        _CURRENT.reset(token)
