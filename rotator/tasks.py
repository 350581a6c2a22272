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

from rotator.app import ROTATE_TASK, SWEEP_TASK, app, settings
from rotator.errors import StateUnavailable
from rotator.runtime import Runtime, build_runtime, queue_ttl
from rotator.states import Result
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


@app.task(bind=True, name=ROTATE_TASK, acks_late=True, max_retries=None)
def rotate(
    self: Task, auth_config_id: str, force: bool = False, version: int | None = None
) -> dict[str, Any]:
    """Rotate one auth config; "try again later" comes back with the service's countdown."""
    nanoid, retries = str(auth_config_id), int(self.request.retries or 0)
    with structlog.contextvars.bound_contextvars(task_retries=retries):
        outcome = runtime().service.rotate_queued(
            nanoid, force=bool(force), version=version, retries=retries
        )
    if outcome.result is Result.RETRY_LATER:
        raise self.retry(countdown=outcome.retry_in)
    return asdict(outcome)


@app.task(name=SWEEP_TASK, acks_late=True)
def sweep() -> dict[str, Any]:
    """Queue a rotation for every auth config whose Vault version differs from what was applied."""
    rt = runtime()

    def enqueue(nanoid: str, force: bool) -> None:
        rotate.apply_async(args=[nanoid], kwargs={"force": force})

    try:
        return asdict(run_sweep(rt, enqueue, queue_ttl=queue_ttl(rt.settings)))
    except StateUnavailable as exc:  # an outage or a failover: the next sweep tries again
        log.warning("sweep.redis_unavailable", error=str(exc))
        return {"skipped": "redis_unavailable"}
