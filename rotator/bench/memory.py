"""Peak worker RSS with the big fleet: a sweep queues every (never applied) auth config, the
workers rotate them, then a second (no-op) sweep runs; then each worker's VmHWM is read.

Baseline: the same workers' VmHWM just after start-up, before any task. The first sync has a
time budget (``--sync-budget``): past it the rest of the queue is dropped, the remaining auth
configs are recorded as applied directly, and the figure is a lower bound (said in the row).
This phase leaves the whole fleet recorded as applied, which the no-op sweep measure uses.
"""

from __future__ import annotations

import time
from typing import Any

from rotator.bench.options import Context
from rotator.bench.report import MISS, Row, verdict
from rotator.bench.seed import MOUNT, Fleet
from rotator.bench.workers import BenchError, Services, applied_count, vm_kib, wait_for

__all__ = ["DB", "LIMIT_MB", "mark_applied", "measure_memory"]

DB = 1
LIMIT_MB = 200.0


def _mb(kib: int) -> float:
    return kib * 1024 / 1e6


def mark_applied(r: Any, f: Fleet, version: int) -> int:
    """Record every auth config not yet applied at ``version`` as applied; how many written."""
    from rotator.models import AppliedState
    from rotator.state import Keys, StateStore

    state = StateStore(r)
    pipe = r.pipeline(transaction=False)
    for nanoid in f.nanoids:
        pipe.hget(Keys.applied(nanoid), "version")
    missing = [n for n, v in zip(f.nanoids, pipe.execute(), strict=True) if v != str(version)]
    now = time.time()
    for nanoid in missing:
        applied = AppliedState(version, "bench", now, None, f"{MOUNT}/{f.path(nanoid)}")
        state.record_success(nanoid, applied, audit={"auth_config_id": nanoid})
    return len(missing)


def _sync(ctx: Context, svc: Services, r: Any) -> tuple[int, float]:
    """The first sweep and its rotations, within the budget: (auth configs synced, seconds)."""
    from rotator.app import QUEUE, SWEEP_TASK

    f, budget = ctx.fleets["sweep"], ctx.options.sync_budget
    n = len(f.nanoids)
    started = time.time()
    svc.send(SWEEP_TASK, [([], {})])
    done = 0
    while time.time() - started < budget:
        svc.check_alive()
        done = applied_count(r, f.nanoids)
        if done == n:
            break
        time.sleep(0.5)
    seconds = time.time() - started
    if done < n:
        r.delete(QUEUE)  # stop here: drop the rest of the queue, record the rest directly
        mark_applied(r, f, ctx.versions["sweep"])
    ctx.note(
        f"first sync through the workers (a sweep + rotations): {done:,} of {n:,} auth configs "
        f"in {seconds:.0f} s ({done / seconds:,.1f}/s)"
        + ("" if done == n else f"; stopped at the {budget:.0f} s budget")
    )
    return done, seconds


def measure_memory(ctx: Context) -> Row:
    from rotator.app import SWEEP_TASK
    from rotator.state import Keys

    o, f = ctx.options, ctx.fleets["sweep"]
    n = len(f.nanoids)
    env = ctx.stack.env(prefix=f.prefix, db=DB, ROTATOR_RATE_LIMIT="0")
    r = ctx.redis(DB)
    with Services(env, ctx.logdir, "memory") as svc:
        svc.start(o.workers, o.concurrency)
        idle = max(vm_kib(pid) for pid in svc.worker_pids)
        done, _ = _sync(ctx, svc, r)
        again = time.time()
        svc.send(SWEEP_TASK, [([], {})])

        def swept() -> bool:
            svc.check_alive()
            return float(r.hget(Keys.last_sweep, "at") or 0) > again

        wait_for("the no-op sweep on a worker", swept, 300, step=0.1)
        summary = r.hgetall(Keys.last_sweep)
        if summary.get("queued") != "0" or summary.get("checked") != str(n):
            raise BenchError(f"the second sweep was not a no-op: {summary}")
        ctx.note(f"no-op sweep on a worker (sweep.completed duration): {summary['duration_ms']} ms")
        peaks = [vm_kib(pid) for pid in svc.worker_pids]
    r.close()
    peak = _mb(max(peaks))
    each = ", ".join(f"{_mb(p):.0f}" for p in peaks)
    complete = done == n
    return Row(
        f"peak worker RSS (VmHWM), {n:,} bindings",
        f"{peak:.0f} MB (workers: {each})"
        if complete
        else f">= {peak:.0f} MB (workers: {each}) after {done:,} of {n:,} rotations",
        f"{_mb(idle):.0f} MB idle worker",
        f"target < {LIMIT_MB:.0f} MB",
        verdict(peak < LIMIT_MB) if complete or peak >= LIMIT_MB else f"{MISS} (incomplete)",
        {"rotator_mb": peak, "baseline_mb": _mb(idle), "rotations": done},
    )
