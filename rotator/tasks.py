"""Thin Celery tasks: parse IDs, call the service, map "try again later" to ``self.retry``.

Task names are stable (``rotator.rotate``, ``rotator.sweep``) so another service can trigger a
rotation with ``send_task`` without importing rotator. Messages and results carry IDs, versions
and outcomes only.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict
from typing import Any

import structlog
from celery import Task

from rotator.app import ROTATE_TASK, SWEEP_TASK, app, settings
from rotator.errors import StateUnavailable
from rotator.logs import scrub
from rotator.models import Outcome
from rotator.policy import RetryBudget, countdown
from rotator.runtime import Runtime, build_runtime
from rotator.state import best_effort
from rotator.sweep import sweep as run_sweep

__all__ = ["rotate", "runtime", "sweep"]

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


def queue_ttl() -> float:
    """How long a dedupe key lives: past any redelivery, so a lost message is queued again."""
    return settings().visibility_timeout + settings().lock_ttl


def _countdown(retry_after: float | None, retries: int) -> float:
    """Grows with the Celery retry count, never sooner than the server asked, capped."""
    budget = RetryBudget.from_settings(settings())
    grown = countdown(retries + 1, budget=budget, rand=random.random)
    return max(1.0, min(max(grown, retry_after or 0.0), budget.max_delay))


def _unknown_pause(nanoid: str, exc: StateUnavailable) -> Outcome:
    """Redis cannot say whether ``nanoid`` is paused: push nothing, come back later."""
    outcome = Outcome(
        auth_config_id=nanoid,
        result="retry_later",
        reason=type(exc).__name__,
        error=scrub(str(exc)),
    )
    log.warning(
        "rotation.retrying", outcome=outcome.result, reason=outcome.reason, error=outcome.error
    )
    return outcome


@app.task(bind=True, name=ROTATE_TASK, acks_late=True, max_retries=None)
def rotate(
    self: Task, auth_config_id: str, force: bool = False, version: int | None = None
) -> dict[str, Any]:
    """Rotate one auth config; transient failures come back with the policy's countdown."""
    rt = runtime()
    try:
        paused = not force and rt.state.is_paused(auth_config_id)
    except StateUnavailable as exc:
        outcome = _unknown_pause(auth_config_id, exc)
    else:
        if paused:
            best_effort(lambda: rt.state.release_queue(auth_config_id))
            return {"auth_config_id": auth_config_id, "result": "skipped", "reason": "paused"}
        outcome = rt.service.rotate(auth_config_id, force=force, version=version)
    if outcome.result == "retry_later":
        if self.request.retries < settings().task_max_retries:
            countdown = _countdown(outcome.retry_after, self.request.retries)
            best_effort(lambda: rt.state.extend_queue(auth_config_id, ttl=queue_ttl() + countdown))
            raise self.retry(countdown=countdown)
        outcome = rt.service.give_up(outcome)
    best_effort(lambda: rt.state.release_queue(auth_config_id))
    return asdict(outcome)


@app.task(name=SWEEP_TASK, acks_late=True)
def sweep() -> dict[str, Any]:
    """Queue a rotation for every auth config whose Vault version differs from what was applied."""
    rt = runtime()

    def enqueue(nanoid: str, force: bool) -> None:
        rotate.apply_async(args=[nanoid], kwargs={"force": force})

    return asdict(run_sweep(rt, enqueue, queue_ttl=queue_ttl()))
