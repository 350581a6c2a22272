"""The webhook's delivery loop: one daemon thread per worker process drains the outbox.

Every ``POLL`` seconds it claims the deliveries that are due (a lease of ``LEASE`` seconds each:
another worker skips them meanwhile) and POSTs them one by one, apart from the rotations (their
threads only queued them). A 2xx answer removes a delivery; anything else (a 4xx too: a receiver
misconfigured today is fixed tomorrow) makes it due again after ``core.webhook.backoff``, for
``RETAIN`` (three days), after which it is dropped with ``webhook.expired``. A worker that dies
mid-send lets the lease run out and another sends it again: at least once, under the same
``X-Rotator-Delivery`` key.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import structlog

from rotator.core.errors import StateUnavailable
from rotator.core.webhook import backoff, expired
from rotator.runtime import Runtime
from rotator.state.outbox import Outbox, Pending
from rotator.webhook.sender import WebhookSender

__all__ = ["Deliverer"]

log = structlog.get_logger("rotator.webhook")

POLL = 1.0  # seconds between looks at the outbox when nothing was due
LEASE = 60.0  # longer than one POST can take (10 s timeout)
MOST = 20  # deliveries claimed at a time


class Deliverer:
    """Drains ``outbox`` through ``sender``; ``run`` loops until ``stop`` is set."""

    def __init__(
        self,
        outbox: Outbox,
        sender: WebhookSender,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.outbox, self.sender = outbox, sender
        self._clock, self._rand = clock, rand
        self.stop = threading.Event()

    def drain_once(self) -> int:
        """Claim what is due and try each once; returns how many were tried."""
        due = self.outbox.claim(now=self._clock(), lease=LEASE, most=MOST)
        for pending in due:
            if self.stop.is_set():
                break  # the lease runs out and another worker (or this one restarted) sends it
            self._deliver(pending)
        return len(due)

    def _deliver(self, p: Pending) -> None:
        answer = self.sender.send(p.delivery, p.body)
        if isinstance(answer, int) and 200 <= answer < 300:
            self.outbox.done(p.delivery)
            log.info("webhook.delivered", delivery=p.delivery, status=answer, attempts=p.attempts)
            return
        now = self._clock()
        if expired(p.enqueued, now):
            self.outbox.done(p.delivery)
            log.error("webhook.expired", delivery=p.delivery, status=answer, attempts=p.attempts)
            return
        wait = backoff(p.attempts, self._rand())
        self.outbox.later(p.delivery, at=now + wait)
        log.warning(
            "webhook.retrying",
            delivery=p.delivery,
            status=answer,
            attempts=p.attempts,
            retry_in=round(wait, 3),
        )

    def run(self) -> None:
        """Until ``stop``: drain, then wait ``POLL`` s when nothing was due (Redis down: the
        deliveries wait in Redis; the loop logs once per failure and tries again)."""
        while not self.stop.is_set():
            try:
                tried = self.drain_once()
            except StateUnavailable as exc:
                log.warning("webhook.outbox_unavailable", error=str(exc))
                tried = 0
            if not tried:
                self.stop.wait(POLL)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="rotator-webhook", daemon=True)
        thread.start()
        return thread


_deliverer: Deliverer | None = None  # one per worker process


def start(rt: Runtime) -> None:
    """With ``ROTATOR_WEBHOOK_URL``: this process drains the outbox, on a thread of its own."""
    global _deliverer  # noqa: PLW0603
    sender = rt.webhook_sender()
    if sender is not None and rt.announcer is not None and rt.announcer.outbox is not None:
        _deliverer = Deliverer(rt.announcer.outbox, sender)
        _deliverer.start()


def stop() -> None:
    """The worker shuts down: the delivery thread stops after its current send."""
    if _deliverer is not None:
        _deliverer.stop.set()
