"""Celery tasks as views: parse IDs, bind log context, call the service, map "later" to
``self.retry(countdown=...)``. Every rule of a rotation's life (pause, countdown, give-up, the
dedupe key) lives in ``RotationService``.

Task names are stable (``rotator.rotate``, ``rotator.sweep``) so another service can trigger a
rotation with ``send_task`` without importing rotator. Messages and results carry IDs, versions
and outcomes only.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import asdict
from typing import Any

import structlog
from celery import Task
from celery.signals import worker_ready, worker_shutting_down

from rotator.core.batching import Entry, parse_entries
from rotator.core.circuit import WAIT_REASON
from rotator.core.errors import ConfigError, PermanentError, RotatorError, StateUnavailable
from rotator.core.states import Result
from rotator.core.trigger import Trigger, parse_trigger, triggered_by
from rotator.rotation.bindings import is_nanoid, nanoid_problem, shown
from rotator.rotation.outcomes import audit_entry, error_outcome, log_fields
from rotator.runtime import Runtime, build_runtime, queue_ttl
from rotator.state.lock import best_effort
from rotator.worker import webhooks
from rotator.worker.app import (
    ROTATE_BATCH_TASK,
    ROTATE_TASK,
    SWEEP_TASK,
    app,
    bindings_file,
    send_batches,
    settings,
)
from rotator.worker.exporter import watch as watch_metrics
from rotator.worker.sweep import sweep as run_sweep

__all__ = ["parse_rotate_args", "rotate", "rotate_batch", "run_batch", "runtime", "sweep"]

log = structlog.get_logger("rotator.tasks")

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    """One runtime (Vault, Composio, Redis clients) per worker process, shared by its threads."""
    global _runtime  # noqa: PLW0603
    with _runtime_lock:
        if _runtime is None:
            _runtime = build_runtime(settings(), bindings=bindings_file())
            watch_metrics(_runtime)
        return _runtime


@worker_shutting_down.connect
def _stop_holding(**_: object) -> None:
    """A worker shutting down stops holding rotations back in its threads (they requeue)."""
    if _runtime is not None:
        _runtime.service.breaker.stopping.set()
    webhooks.stop()


@worker_ready.connect
def _start_webhooks(**_: object) -> None:
    """With ``ROTATOR_WEBHOOK_URL``: this worker drains the webhook's outbox (``webhooks``)."""
    if settings().webhook_url is not None:
        try:
            webhooks.start(runtime())
        except RotatorError as exc:  # each rotation fails with the same reason, named
            log.error("webhook.not_started", error=str(exc))


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


def _shown_id(raw: object) -> str:
    """A message's auth config id as outcomes and logs name it: shortened unless a nanoid."""
    return raw if isinstance(raw, str) and is_nanoid(raw) else shown(raw)


def _reject(rt: Runtime, nanoid: str, problem: str, task: str = ROTATE_TASK) -> dict[str, Any]:
    """A message that can never run: rotation.failed and a dead-letter entry, no retry."""
    return _dead(rt, nanoid, PermanentError(f"{task} task arguments: {problem}"))


def _unserved(nanoid: str, exc: ConfigError) -> dict[str, Any]:
    """No runtime: a setting read when it is built (the fingerprint key file) broke after
    start-up. The rotation fails with the reason in its log line and result (nothing can be
    recorded in Redis without a runtime); the sweep queues it again once it is fixed."""
    outcome = error_outcome(nanoid, None, None, PermanentError(str(exc)), time.perf_counter())
    log.error("rotation.failed", auth_config_id=nanoid, **log_fields(outcome))
    return outcome.as_dict()


def _dead(
    rt: Runtime, nanoid: str, exc: PermanentError, *, release: bool = False
) -> dict[str, Any]:
    """A final failure outside the service: rotation.failed, a dead-letter entry (``release``:
    and the sweep's dedupe key dropped)."""
    outcome = error_outcome(nanoid, None, None, exc, time.perf_counter())
    best_effort(lambda: rt.state.dead_letter({**audit_entry(outcome), "at": time.time()}))
    if release:
        best_effort(lambda: rt.state.release_queue(nanoid))
    log.error("rotation.failed", auth_config_id=nanoid, **log_fields(outcome))
    return outcome.as_dict()


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
    try:
        rt = runtime()
    except ConfigError as exc:
        return _unserved(_shown_id(auth_config_id), exc)
    problem = parse_rotate_args(auth_config_id, force, version)
    if problem is not None:
        return _reject(rt, _shown_id(auth_config_id), problem)
    nanoid, waits = auth_config_id, max(int(breaker_waits or 0), 0)
    retries = max(int(self.request.retries or 0) - waits, 0)
    with (
        structlog.contextvars.bound_contextvars(task_retries=retries),
        triggered_by(parse_trigger(trigger)),
    ):
        outcome = rt.service.rotate_queued(nanoid, force=force, version=version, retries=retries)
    if outcome.result is Result.RETRY_LATER:
        waits += outcome.reason == WAIT_REASON
        kwargs = _retry_kwargs(force=bool(force), version=version, waits=waits, trigger=trigger)
        raise self.retry(countdown=outcome.retry_in, kwargs=kwargs)
    return outcome.as_dict()


def _retry_kwargs(
    *, force: bool, version: int | None, waits: int, trigger: str | None
) -> dict[str, object]:
    kwargs: dict[str, object] = {"force": force, "version": version, "breaker_waits": waits}
    if trigger is not None:
        kwargs["trigger"] = trigger
    return kwargs


# resultrepr_maxsize: Celery formats every result for its success line (dropped below DEBUG),
# whatever the level; a batch's result is its 25 outcomes, so only its head is formatted.
@app.task(bind=True, name=ROTATE_BATCH_TASK, acks_late=True, resultrepr_maxsize=200)
def rotate_batch(self: Task, entries: object) -> dict[str, Any]:
    """Rotate a batch of auth configs (``rotator.core.batching``): see ``run_batch``."""
    keep = not bool(getattr(self.request, "ignore_result", False))
    try:
        rt = runtime()
    except ConfigError as exc:
        parsed, _ = parse_entries(entries)
        outcomes = [_unserved(_shown_id(e.auth_config_id), exc) for e in parsed]
        return {"outcomes": outcomes, "requeued": {}}
    return run_batch(rt, entries, keep=keep)


def run_batch(rt: Runtime, entries: object, *, keep: bool) -> dict[str, Any]:
    """A batch's entries one after another in this thread, each exactly as ``rotator.rotate``
    would: its lock, pause check, plan, PATCH, record, log line and audit entry. An entry that
    must try again later goes back to the broker alone, as a ``rotator.rotate`` task with its
    countdown and one retry spent (a breaker wait spends none); once the open breaker holds one
    back, the entries not yet tried go with it, with the same countdown. A worker shutting
    down hands the entries it has not started back at once, as single tasks. ``keep``: the
    requeued tasks store their results (``--wait``). Returns the final outcomes and
    ``requeued`` (nanoid -> task id)."""
    parsed, problem = parse_entries(entries)
    if problem is not None:
        # no auth config to name: an empty id, which `dlq replay` skips
        return {"outcomes": [_reject(rt, "", problem, ROTATE_BATCH_TASK)], "requeued": {}}
    outcomes: list[dict[str, Any]] = []
    requeued: dict[str, str] = {}
    hold: float | None = None  # the breaker's countdown, once it held an entry back
    stopping = rt.service.breaker.stopping  # a warm shutdown waits for one rotation, not all
    for entry in parsed:
        problem = entry.problem or parse_rotate_args(entry.auth_config_id, entry.force, None)
        nanoid = _shown_id(entry.auth_config_id)
        if problem is not None:
            outcomes.append(_reject(rt, nanoid, problem, ROTATE_BATCH_TASK))
            continue
        if hold is not None or stopping.is_set():  # not tried: goes back as a single task
            countdown = hold or 0.0
            extend = functools.partial(
                rt.state.extend_queue, nanoid, ttl=rt.settings.queue_ttl + countdown
            )
            best_effort(extend)
            spent = 1 if hold is not None else 0  # a breaker wait; a shutdown: a new delivery
            _requeue(requeued, entry, countdown, waits=spent, keep=keep, retries=spent)
            continue
        try:
            with (
                structlog.contextvars.bound_contextvars(task_retries=0),
                triggered_by(parse_trigger(entry.trigger)),
            ):
                outcome = rt.service.rotate_queued(
                    nanoid, force=bool(entry.force), version=None, retries=0, hold=False
                )
        except Exception as exc:  # a defect: failed and dead-lettered (replayable), the rest
            # of the batch still rotates
            crash = PermanentError(f"{nanoid}: internal error ({type(exc).__name__})")
            outcomes.append(_dead(rt, nanoid, crash, release=True))
            continue
        if outcome.result is not Result.RETRY_LATER:
            outcomes.append(outcome.as_dict())
            continue
        waited = outcome.reason == WAIT_REASON
        if waited:  # the untried rest waits with it
            hold = outcome.retry_in
        _requeue(requeued, entry, outcome.retry_in or 0.0, waits=int(waited), keep=keep)
    return {"outcomes": outcomes, "requeued": requeued}


def _requeue(
    requeued: dict[str, str],
    entry: Entry,
    countdown: float,
    *,
    waits: int,
    keep: bool,
    retries: int = 1,
) -> None:
    """One entry of a batch as its own ``rotator.rotate`` task, as if it had been retried
    ``retries`` times (``waits`` of them breaker waits, which spend no retry); its task id goes
    in ``requeued``. A publish that fails even after Celery's retries (the broker away for a
    minute) is logged, and the batch goes on: the sweep queues that config again once its
    dedupe key expires."""
    nanoid = str(entry.auth_config_id)
    trigger = entry.trigger if isinstance(entry.trigger, str) else None
    kwargs = _retry_kwargs(force=bool(entry.force), version=None, waits=waits, trigger=trigger)
    try:
        sent = rotate.apply_async(
            args=[nanoid],
            kwargs=kwargs,
            countdown=countdown,
            retries=retries,
            ignore_result=not keep,
        )
    except Exception as exc:  # kombu/redis errors after the publish retries
        log.error("rotation.requeue_failed", auth_config_id=nanoid, error=type(exc).__name__)
        return
    requeued[nanoid] = str(sent.id)


@app.task(name=SWEEP_TASK, acks_late=True, ignore_result=True)
def sweep() -> dict[str, Any]:
    """Queue a rotation for every auth config whose Vault version differs from what was applied.

    Nobody waits on a sweep or on the rotations it queues (their outcome is in rotator's state,
    the audit stream and the log), so neither stores a Celery result: no result write per
    rotation and no result key kept in Redis for a day. ``rotate --wait`` still gets its own."""
    rt = runtime()
    queued: list[Entry] = []

    def enqueue(nanoid: str, force: bool) -> None:
        trigger = Trigger.RESYNC if force else Trigger.SWEEP  # the sweep forces only a resync
        queued.append(Entry(nanoid, force, trigger.value))

    def flush() -> None:  # after each slice of the sweep: the workers start on it at once
        ready = queued.copy()
        queued.clear()  # sent once, even if this send fails part way
        send_batches(ready, most=rt.settings.batch_size, keep=False)

    try:
        return asdict(run_sweep(rt, enqueue, queue_ttl=queue_ttl(rt.settings), flush=flush))
    except StateUnavailable as exc:  # an outage or a failover: the next sweep tries again
        log.warning("sweep.redis_unavailable", error=str(exc))
        return {"skipped": "redis_unavailable"}
    finally:
        flush()  # even after an outage cut the sweep short: these hold their dedupe keys
