"""Peak worker RSS with the big fleet: a sweep queues every (never applied) auth config, the
workers rotate them, then a second (no-op) sweep runs; then each worker's VmHWM is read.

Baseline: the same workers' VmHWM just after start-up, before any task. The first sync is also
a row of its own, against the bare loop (``benchmarks.suite.firstsync``); past its time budget the
figure is a lower bound (said in the row). This phase leaves the whole fleet recorded as
applied, which the no-op sweep and the ``plan``/``status`` measures use.
"""

from __future__ import annotations

import time

from benchmarks.suite.firstsync import bare_sync, first_sync, sync_row
from benchmarks.suite.options import Context
from benchmarks.suite.report import MISS, Row, verdict
from benchmarks.suite.rotation import ANNOUNCED
from benchmarks.suite.workers import BenchError, Services, vm_kib, wait_for

__all__ = ["DB", "LIMIT_MB", "measure_memory"]

DB = 1
LIMIT_MB = 200.0


def _mb(kib: int) -> float:
    return kib * 1024 / 1e6


def measure_memory(ctx: Context) -> list[Row]:
    from rotator.state.store import Keys
    from rotator.worker.app import SWEEP_TASK

    o, f = ctx.options, ctx.fleets["sweep"]
    n = len(f.nanoids)
    # The shipped defaults, as in the full rotation: the auto share of an announced limit that
    # does not bind (Enterprise-sized, 100,000/min), so the limiter's cost is in the figure.
    env = ctx.stack.env(prefix=f.prefix, db=DB)
    ctx.stack.emulator.set_rate_limit(ANNOUNCED, 60.0)
    try:
        bare = bare_sync(ctx, env)  # before the workers start: nothing else runs meanwhile
        r = ctx.redis(DB)
        with Services(env, ctx.logdir, "memory") as svc:
            svc.start(o.workers, o.concurrency)
            idle = max(vm_kib(pid) for pid in svc.worker_pids)
            done, seconds = first_sync(ctx, svc, r)
            again = time.time()
            svc.send(SWEEP_TASK, [([], {})])

            def swept() -> bool:
                svc.check_alive()
                return float(r.hget(Keys.last_sweep, "at") or 0) > again

            wait_for("the no-op sweep on a worker", swept, 300, step=0.1)
            summary = r.hgetall(Keys.last_sweep)
            if summary.get("queued") != "0" or summary.get("checked") != str(n):
                raise BenchError(f"the second sweep was not a no-op: {summary}")
            ctx.note(
                f"no-op sweep on a worker (sweep.completed duration): {summary['duration_ms']} ms"
            )
            peaks = [vm_kib(pid) for pid in svc.worker_pids]
    finally:
        ctx.stack.emulator.set_rate_limit(None)  # the later phases set their own
    r.close()
    peak = _mb(max(peaks))
    each = ", ".join(f"{_mb(p):.0f}" for p in peaks)
    complete = done == n
    return [
        sync_row(ctx, done, seconds, bare),
        Row(
            f"peak worker RSS (VmHWM), {n:,} bindings",
            f"{peak:.0f} MB (workers: {each})"
            if complete
            else f">= {peak:.0f} MB (workers: {each}) after {done:,} of {n:,} rotations",
            f"{_mb(idle):.0f} MB idle worker",
            f"target < {LIMIT_MB:.0f} MB",
            verdict(peak < LIMIT_MB) if complete or peak >= LIMIT_MB else f"{MISS} (incomplete)",
            {"rotator_mb": peak, "baseline_mb": _mb(idle), "rotations": done},
        ),
    ]
