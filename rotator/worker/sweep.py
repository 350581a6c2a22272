"""The sweep: find auth configs whose Vault version moved (cheap KV v2 metadata reads) and queue
a rotation for each, never two at once for the same auth config.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from rotator.core.errors import RotatorError
from rotator.core.models import Binding, Brief, VersionMeta
from rotator.core.plan import SweepDecision, needs_version, sweep_decision
from rotator.core.states import SweepAction
from rotator.observability.logs import scrub
from rotator.rotation.catalog import ambiguous_error
from rotator.runtime import READS_IN_FLIGHT, Runtime
from rotator.worker.overdue import announce_overdue

__all__ = ["SweepSummary", "sweep"]

log = structlog.get_logger("rotator.sweep")

Enqueue = Callable[[str, bool], None]  # (auth_config_id, force)

_SKIP_COUNTS = {
    SweepAction.IN_STEP: "skipped",
    SweepAction.PAUSED: "paused",
    SweepAction.QUARANTINED: "quarantined",
}


@dataclass(frozen=True)
class SweepSummary:
    checked: int
    queued: int
    skipped: int
    already_queued: int
    paused: int
    quarantined: int
    errors: int
    ambiguous: int  # nanoids found at several Vault paths: pushed from none
    duration_ms: float
    unreadable: int = 0  # auth configs with a Redis record rotator could not parse: re-pushed


SLICE = 1024  # auth configs read, decided and queued at a time: workers start on the first


def sweep(
    rt: Runtime,
    enqueue: Enqueue,
    *,
    queue_ttl: float,
    threads: int = READS_IN_FLIGHT,
    flush: Callable[[], None] = lambda: None,
) -> SweepSummary:
    """Check every auth config once and queue those that need a rotation, ``SLICE`` at a
    time: each slice's metadata read, decided and queued (``flush`` after each: the caller
    sends what ``enqueue`` collected), so the workers rotate while the sweep reads on."""
    started = time.perf_counter()
    try:
        view = rt.catalog.view(fresh=True)
    except RotatorError as exc:  # Vault sealed, down or denying the LIST: the next sweep retries
        log.warning("sweep.vault_error", error=scrub(str(exc)))
        return _completed(rt, started, checked=0, errors=1)
    ids = list(view.bindings)
    paused = rt.state.paused()
    counts = {"queued": 0, "skipped": 0, "already_queued": 0, "paused": 0, "quarantined": 0}
    counts["unreadable"] = 0
    counts["errors"] = len(view.problems)
    if view.bindings_problem is not None:  # the file broke: one line a sweep until it is fixed
        counts["errors"] += 1
        log.error("sweep.bindings_invalid", error=view.bindings_problem)
    ambiguous = _ambiguous(rt, view.conflicts, enqueue, queue_ttl=queue_ttl)
    for at in range(0, len(ids), SLICE):
        part = {n: view.bindings[n] for n in ids[at : at + SLICE]}
        _slice(rt, part, enqueue, counts, paused=paused, queue_ttl=queue_ttl, threads=threads)
        flush()
    return _completed(rt, started, checked=len(ids), ambiguous=ambiguous, **counts)


def _slice(
    rt: Runtime,
    bindings: dict[str, Binding],
    enqueue: Enqueue,
    counts: dict[str, int],
    *,
    paused: tuple[bool, set[str]],
    queue_ttl: float,
    threads: int,
) -> None:
    """One slice of the sweep: its metadata reads, its decisions, its claims, its queueing."""
    ids = list(bindings)
    briefs = rt.state.briefs(ids)
    counts["unreadable"] += sum(b.unreadable for b in briefs.values())
    everything_paused, paused_ids = paused
    wanted = {
        n: b
        for n, b in bindings.items()
        if needs_version(
            applied_version=briefs[n].applied_version,
            failures=briefs[n].failures,
            paused=everything_paused or n in paused_ids,
        )
    }
    versions = rt.vault_versions(wanted, threads) if wanted else {}
    now = time.time()
    due: list[tuple[str, SweepDecision, int | None]] = []
    for nanoid in ids:
        meta = versions.get(nanoid)  # None: not needed to decide
        if isinstance(meta, str):
            counts["errors"] += 1
            log.warning("sweep.vault_error", auth_config_id=nanoid, error=meta)
            continue
        version = meta.version if meta is not None else None
        paused_one = everything_paused or nanoid in paused_ids
        decision = _decide(rt, briefs[nanoid], meta, paused=paused_one, now=now)
        if decision.action is not SweepAction.QUEUE:
            counts[_SKIP_COUNTS[decision.action]] += 1
        else:
            due.append((nanoid, decision, version))
    announce_overdue(rt, bindings, briefs, versions, now=now)  # ops: at most once a day each
    claimed = set(rt.state.claim_queues([n for n, _, _ in due], ttl=queue_ttl))  # one round trip
    for nanoid, decision, version in due:
        if nanoid not in claimed:
            counts["already_queued"] += 1
            continue
        enqueue(nanoid, decision.force)
        counts["queued"] += 1
        log.debug(  # one line per rotation at INFO: its own; sweep.completed counts these
            "sweep.queued", auth_config_id=nanoid, reason=decision.reason, vault_version=version
        )


def _decide(
    rt: Runtime, b: Brief, meta: VersionMeta | None, *, paused: bool, now: float
) -> SweepDecision:
    """``sweep_decision`` for one auth config. One whose records could not all be read is
    pushed again even when in step (forced): the rotation rewrites its records."""
    s = rt.settings
    decision = sweep_decision(
        current_version=meta.version if meta is not None else None,
        current_created=meta.created_time if meta is not None else None,
        applied_created=b.applied_created,
        error_created=b.error_created,
        applied_version=b.applied_version,
        applied_at=b.applied_at,
        failures=b.failures,
        error_version=b.error_version,
        paused=paused,
        now=now,
        resync_interval=s.resync_interval,
        quarantine_after=s.quarantine_after,
    )
    if b.unreadable and decision.action is SweepAction.IN_STEP:
        return SweepDecision(SweepAction.QUEUE, True, "unreadable state record")
    return decision


def _ambiguous(
    rt: Runtime, conflicts: dict[str, tuple[str, ...]], enqueue: Enqueue, *, queue_ttl: float
) -> int:
    """Nanoids found at several paths are pushed from none. Each is queued once per new set of
    paths, so that a worker records the failure (``rotation.failed``, audit, dead letter, status)
    without flooding the dead letter at every sweep."""
    for nanoid, paths in conflicts.items():
        message = str(ambiguous_error(nanoid, paths))
        log.warning("sweep.ambiguous_source", auth_config_id=nanoid, paths=list(paths))
        last = rt.state.get_last_error(nanoid)
        if last is not None and last.message == scrub(message)[:500]:
            continue  # already failed for exactly these paths
        if rt.state.claim_queue(nanoid, ttl=queue_ttl):
            enqueue(nanoid, False)
    return len(conflicts)


def _completed(
    rt: Runtime, started: float, *, checked: int, errors: int, **counts: int
) -> SweepSummary:
    """Record and log the one ``sweep.completed`` line every sweep ends with."""
    summary = SweepSummary(
        checked=checked,
        queued=counts.get("queued", 0),
        skipped=counts.get("skipped", 0),
        already_queued=counts.get("already_queued", 0),
        paused=counts.get("paused", 0),
        quarantined=counts.get("quarantined", 0),
        errors=errors,
        ambiguous=counts.get("ambiguous", 0),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        unreadable=counts.get("unreadable", 0),
    )
    rt.state.record_sweep({**summary.__dict__, "at": time.time()})
    log.info("sweep.completed", **summary.__dict__)
    return summary
