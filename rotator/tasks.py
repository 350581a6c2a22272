"""Celery tasks as views: parse IDs, bind log context, call the service, map "later" to
``self.retry(countdown=...)``. Every rule of a rotation's life (pause, countdown, give-up, the
dedupe key) lives in ``RotationService``.

Task names are stable (``rotator.rotate``, ``rotator.sweep``) so another service can trigger a
rotation with ``send_task`` without importing rotator. Messages and results carry IDs, versions
and outcomes only.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any

import structlog
from celery import Task
from celery.signals import worker_shutting_down

from rotator.app import ROTATE_TASK, SWEEP_TASK, app, settings
from rotator.circuit import WAIT_REASON
from rotator.runtime import Runtime, build_runtime, queue_ttl
from rotator.states import Result
from rotator.sweep import sweep as run_sweep
from rotator.trigger import Trigger, parse_trigger, triggered_by

__all__ = ["rotate", "runtime", "sweep"]

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    """One runtime (Vault, Composio, Redis clients) per worker process, shared by its threads."""
    global _runtime  # noqa: PLW0603
    with _runtime_lock:
        if _runtime is None:
            _runtime = build_runtime(settings())
        return _runtime


@worker_shutting_down.connect
def _stop_holding(**_: object) -> None:
    """A worker shutting down stops holding rotations back in its threads (they requeue)."""
    if _runtime is not None:
        _runtime.service.breaker.stopping.set()


@app.task(bind=True, name=ROTATE_TASK, acks_late=True, max_retries=None)
def rotate(
    self: Task,
    auth_config_id: str,
    force: bool = False,
    version: int | None = None,
    *,
    breaker_waits: int = 0,
    trigger: str | None = None,
) -> dict[str, Any]:
    """Rotate one auth config; "try again later" comes back with the service's countdown.

    Celery counts every requeue in ``request.retries``; the ones the open circuit breaker held
    back are counted apart in ``breaker_waits`` and do not spend the retry budget. ``trigger``
    (optional: absent means ``send_task``) is recorded in the audit entry."""
    nanoid, waits = str(auth_config_id), max(int(breaker_waits or 0), 0)
    retries = max(int(self.request.retries or 0) - waits, 0)
    with (
        structlog.contextvars.bound_contextvars(task_retries=retries),
        triggered_by(parse_trigger(trigger)),
    ):
        outcome = runtime().service.rotate_queued(
            nanoid, force=bool(force), version=version, retries=retries
        )
    if outcome.result is Result.RETRY_LATER:
        waits += outcome.reason == WAIT_REASON
        kwargs: dict[str, object] = {"force": bool(force), "version": version}
        kwargs["breaker_waits"] = waits
        if trigger is not None:
            kwargs["trigger"] = trigger
        raise self.retry(countdown=outcome.retry_in, kwargs=kwargs)
    return asdict(outcome)


@app.task(name=SWEEP_TASK, acks_late=True)
def sweep() -> dict[str, Any]:
    """Queue a rotation for every auth config whose Vault version differs from what was applied."""
    rt = runtime()

    def enqueue(nanoid: str, force: bool) -> None:
        trigger = Trigger.RESYNC if force else Trigger.SWEEP  # the sweep forces only a resync
        rotate.apply_async(args=[nanoid], kwargs={"force": force, "trigger": trigger.value})

    return asdict(run_sweep(rt, enqueue, queue_ttl=queue_ttl(rt.settings)))
