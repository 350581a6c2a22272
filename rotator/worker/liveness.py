"""Liveness for the Redis broker: a live worker keeps renewing what it holds, a dead one stops.

kombu's Redis transport records a delivered message in ``unacked`` (tag -> message) and
``unacked_index`` (tag -> delivery time), and its ``restore_visible`` scan puts back every entry
older than the visibility timeout. Nothing there knows whether the holder is alive. This
consumer bootstep makes the visibility timeout a liveness timeout: every ``renew_interval``
seconds (visibility timeout / 6) it sets the score of every message the worker holds (running,
reserved, waiting out an ETA or a retry countdown) to now, with one pipelined ``ZADD XX`` (XX:
an entry acked or restored meanwhile is never re-created), and renews the sweep's dedupe key of
each held rotation (``SET XX``: a released key stays released). It runs on the consumer's own
timer, in the consumer's thread, so kombu's channel is only touched from its own thread. A
SIGKILLed worker renews nothing: kombu restores its messages, as the same task ids, one
visibility timeout after its last renewal (plus the restore scan), and its dedupe keys expire.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from celery import bootsteps

from rotator.settings.load import Settings
from rotator.state.store import StateStore

__all__ = ["held_rotations", "liveness_step", "renew_interval"]

log = structlog.get_logger("rotator.liveness")

ROTATE_TASK = "rotator.rotate"
ROTATE_BATCH_TASK = "rotator.rotate_batch"


def renew_interval(visibility_timeout: float) -> float:
    """Renew six times per visibility timeout (5 s with the default 30 s), at least every 1 s."""
    return max(1.0, visibility_timeout / 6)


def held_rotations(messages: Iterable[Any]) -> list[str]:
    """The auth config ids of the ``rotator.rotate`` and ``rotator.rotate_batch`` messages
    among ``messages`` (protocol 2: the task name in the headers, ``[args, kwargs, embed]`` in
    the body; every entry of a batch); others are skipped."""
    return [nanoid for message in messages for nanoid in _rotations_of(message)]


def _rotations_of(message: Any) -> list[str]:
    try:
        task = (message.headers or {}).get("task")
        if task not in {ROTATE_TASK, ROTATE_BATCH_TASK}:
            return []
        args, kwargs, _ = message.decode()
        if task == ROTATE_BATCH_TASK:  # [entries]: each {"auth_config_id": ...}
            entries = kwargs.get("entries") or (args[0] if args else [])
            found = [e.get("auth_config_id") for e in entries if isinstance(e, dict)]
        else:
            found = [kwargs.get("auth_config_id") or (args[0] if args else None)]
    except Exception:  # a body that is not ours: nothing to renew for it
        return []
    return [nanoid for nanoid in found if isinstance(nanoid, str)]


def _snapshot(delivered: Any) -> list[tuple[Any, Any]]:
    """The QoS's delivered messages; worker threads ack concurrently, so retry a torn read."""
    for _ in range(5):
        try:
            return list(delivered.items())
        except RuntimeError:  # "mutated during iteration": read again
            continue
    return []


def liveness_step(settings: Callable[[], Settings]) -> type[bootsteps.StartStopStep]:
    """The consumer bootstep class, reading rotator's settings through ``settings``."""

    class Liveness(bootsteps.StartStopStep):  # type: ignore[misc]
        requires = ("celery.worker.consumer.tasks:Tasks",)

        def __init__(self, parent: Any, **kwargs: Any) -> None:
            super().__init__(parent, **kwargs)
            self._tref: Any = None
            self._state: StateStore | None = None

        def start(self, c: Any) -> None:
            s = settings()
            self._state = StateStore.from_url(
                s.redis_url,
                sentinel_master=s.redis_sentinel_master,
                sentinel_password=s.redis_sentinel_password,
            )
            interval = renew_interval(s.visibility_timeout)
            self._tref = c.timer.call_repeatedly(interval, self.renew, (c, s.queue_ttl))

        def stop(self, c: Any) -> None:
            if self._tref is not None:
                self._tref.cancel()
                self._tref = None

        def shutdown(self, c: Any) -> None:
            self.stop(c)
            if self._state is not None:
                self._state.close()

        def renew(self, c: Any, queue_ttl: float) -> None:
            """One renewal round; a failure is logged and the next round tries again."""
            try:
                channel = c.task_consumer.channel
                held = _snapshot(channel.qos._delivered)
                if not held:
                    return
                now = time.time()
                with channel.conn_or_acquire() as client:
                    pipe = client.pipeline(transaction=False)
                    pipe.zadd(channel.unacked_index_key, {tag: now for tag, _ in held}, xx=True)
                    pipe.execute()
                assert self._state is not None
                self._state.renew_queued(held_rotations(m for _, m in held), ttl=queue_ttl)
            except Exception as exc:  # Redis away, a reconnect under way: next round
                log.warning("liveness.renew_failed", error=type(exc).__name__)

    return Liveness
