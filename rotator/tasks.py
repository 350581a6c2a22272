"""Celery tasks as views: parse IDs, bind log context, call the service, map "later" to
``self.retry(countdown=...)``. Every rule of a rotation's life (pause, countdown, give-up, the
dedupe key) lives in ``RotationService``.

Task names are stable (``rotator.rotate``, ``rotator.sweep``) so another service can trigger a
rotation with ``send_task`` without importing rotator. Messages and results carry IDs, versions
and outcomes only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from typing import Any

import structlog
from celery import Task
from celery.signals import worker_shutting_down

from rotator.app import ROTATE_TASK, SWEEP_TASK, app, settings
from rotator.bindings import is_nanoid, nanoid_problem, shown
from rotator.circuit import WAIT_REASON
from rotator.errors import PermanentError, StateUnavailable
from rotator.outcomes import audit_entry, error_outcome, log_fields
from rotator.runtime import Runtime, build_runtime, queue_ttl
from rotator.state_lock import best_effort
from rotator.states import Result
from rotator.sweep import sweep as run_sweep
from rotator.trigger import Trigger, parse_trigger, triggered_by

__all__ = ["parse_rotate_args", "rotate", "runtime", "sweep"]

log = structlog.get_logger("rotator.rotation")
log = structlog.get_logger("rotator.tasks")

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


def parse_rotate_args(auth_config_id: object, force: object, version: object) -> str | None:
    """None when a ``rotator.rotate`` message's arguments are usable, else the problem (named,
    shortened): a nanoid, ``force`` a bool, ``version`` an int >= 1 or None. Checked once,
    before anything runs: a bad message fails at once instead of being retried."""
    if (problem := nanoid_problem(auth_config_id)) is not None:
        return f"auth_config_id {problem}"
    if not isinstance(force, bool):
        return f"force {shown(force)} must be true or false"
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        return f"version {shown(version)} must be an integer >= 1 (or null for the latest)"
    return None


def _reject(rt: Runtime, nanoid: str, problem: str) -> dict[str, Any]:
    """A message that can never run: rotation.failed and a dead-letter entry, no retry."""
    exc = PermanentError(f"{ROTATE_TASK} task arguments: {problem}")
    outcome = error_outcome(nanoid, None, None, exc, time.perf_counter())
    best_effort(lambda: rt.state.dead_letter({**audit_entry(outcome), "at": time.time()}))
    log.error("rotation.failed", auth_config_id=nanoid, **log_fields(outcome))
    return asdict(outcome)


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
    problem = parse_rotate_args(auth_config_id, force, version)
    if problem is not None:
        shown_id = auth_config_id if is_nanoid(auth_config_id) else shown(auth_config_id)
        return _reject(runtime(), shown_id, problem)
    nanoid, waits = auth_config_id, max(int(breaker_waits or 0), 0)
    retries = max(int(self.request.retries or 0) - waits, 0)
    with (
        structlog.contextvars.bound_contextvars(task_retries=retries),
        triggered_by(parse_trigger(trigger)),
    ):
        outcome = runtime().service.rotate_queued(
            nanoid, force=force, version=version, retries=retries
        )
    if outcome.result is Result.RETRY_LATER:
        waits += outcome.reason == WAIT_REASON
        kwargs: dict[str, object] = {"force": bool(force), "version": version}
        kwargs["breaker_waits"] = waits
        if trigger is not None:
            kwargs["trigger"] = trigger
        raise self.retry(countdown=outcome.retry_in, kwargs=kwargs)
    return asdict(outcome)


@app.task(name=SWEEP_TASK, acks_late=True, ignore_result=True)
def sweep() -> dict[str, Any]:
    """Queue a rotation for every auth config whose Vault version differs from what was applied.

    Nobody waits on a sweep or on the rotations it queues (their outcome is in rotator's state,
    the audit stream and the log), so neither stores a Celery result: no result write per
    rotation and no result key kept in Redis for a day. ``rotate --wait`` still gets its own."""
    rt = runtime()

    def enqueue(nanoid: str, force: bool) -> None:
        trigger = Trigger.RESYNC if force else Trigger.SWEEP  # the sweep forces only a resync
        kwargs = {"force": force, "trigger": trigger.value}
        rotate.apply_async(args=[nanoid], kwargs=kwargs, ignore_result=True)

    try:
        return asdict(run_sweep(rt, enqueue, queue_ttl=queue_ttl(rt.settings)))
    except StateUnavailable as exc:  # an outage or a failover: the next sweep tries again
        log.warning("sweep.redis_unavailable", error=str(exc))
        return {"skipped": "redis_unavailable"}
