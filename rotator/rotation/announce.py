"""Announcing final outcomes and overdue credentials to the signed webhook's outbox.

The service calls ``Announcer.final`` with every outcome it returns; only final ones
(succeeded, failed, quarantined, unverified) are queued. Queueing is one Redis round trip and
never waits for the receiver (a worker delivers: ``rotator.worker.webhooks``); when Redis cannot
take it, the rotation goes on and ``state.write_failed`` says so. Without ``ROTATOR_WEBHOOK_URL``
nothing is queued.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable

import structlog

from rotator.core.errors import StateUnavailable
from rotator.core.models import Outcome
from rotator.core.states import Result
from rotator.core.webhook import Notice, body_text, event_for
from rotator.reports.age import PROJECT
from rotator.state.lock import best_effort
from rotator.state.outbox import Outbox
from rotator.state.store import StateStore

__all__ = ["Announcer", "rfc3339"]

log = structlog.get_logger("rotator.webhook")


def rfc3339(ts: float) -> str:
    """``2026-05-01T12:00:00.123Z``."""
    at = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Announcer:
    """Builds each notice's body once and queues it under a fresh idempotency key."""

    def __init__(
        self,
        outbox: Outbox | None,
        *,
        state: StateStore,
        quarantine_after: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self._state = state
        self._quarantine_after = quarantine_after
        self._clock = clock

    def final(self, o: Outcome) -> None:
        """Queue ``o`` when it is final; a failure is ``quarantined`` when it put the auth
        config in quarantine (its consecutive permanent failures reached the threshold)."""
        if self.outbox is None:
            return
        event = event_for(o.result, quarantined=self._quarantined(o))
        if event is None:
            return
        self.put(
            Notice(
                event=f"rotation.{event}",
                auth_config_id=o.auth_config_id,
                project=PROJECT,
                vault_path=o.vault_path,
                vault_version=o.vault_version,
                outcome=event,
                http_status=o.http_status,
                slug=o.error_slug,
                request_id=o.request_id,
                at=rfc3339(self._clock()),
            )
        )

    def overdue(self, *, auth_config_id: str, vault_path: str, vault_version: int | None) -> None:
        """Queue a ``credential.overdue`` notice (the caller keeps it to once a day)."""
        if self.outbox is None:
            return
        self.put(
            Notice(
                event="credential.overdue",
                auth_config_id=auth_config_id,
                project=PROJECT,
                vault_path=vault_path,
                vault_version=vault_version,
                outcome="overdue",
                http_status=None,
                slug=None,
                request_id=None,
                at=rfc3339(self._clock()),
            )
        )

    def put(self, notice: Notice) -> None:
        outbox = self.outbox
        if outbox is None:
            return
        delivery = uuid.uuid4().hex
        body = body_text(notice)
        best_effort(lambda: outbox.put(delivery, body, now=self._clock()))
        log.debug("webhook.queued", delivery=delivery, webhook_event=notice.event)

    def _quarantined(self, o: Outcome) -> bool:
        if o.result is not Result.FAILED or self._quarantine_after <= 0:
            return False
        try:
            failures = self._state.consecutive_failures(o.auth_config_id)
        except StateUnavailable:
            return False
        return failures >= self._quarantine_after
