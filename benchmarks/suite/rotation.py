"""Full rotation: every auth config got a new Vault version; time until all are pushed.

rotator: the messages ``rotator rotate --all`` sends (``rotator.rotate_batch`` tasks of up to
``ROTATOR_BATCH_SIZE`` auth configs, at least 64 of them), N worker subprocesses; the clock runs
from the first send to the last success recorded in Redis (the audit stream's entry ID is the
Redis server's time in milliseconds). Baseline: the same reads and PATCHes with as many
processes and threads, no Celery, no Redis (``benchmarks.suite.bare``). Runs alternate, each
pushing a fresh version. rotator runs with its default rate limit (``auto``: half of what the
emulator announces, 100,000/min here).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.suite.bare import run_bare_rotation
from benchmarks.suite.options import Context
from benchmarks.suite.report import Row, time_row
from benchmarks.suite.seed import Fleet, write_versions
from benchmarks.suite.workers import (
    BenchError,
    Services,
    applied_count,
    cpu_seconds,
    vm_kib,
    wait_for,
)

__all__ = ["TARGET", "measure_rotation", "rotate_all", "stream_seconds"]

TARGET = 1.3
DB = 0
BATCH_SIZE = 25  # the shipped ROTATOR_BATCH_SIZE
ANNOUNCED = 100_000  # requests per minute the emulator announces in this phase


def stream_seconds(entry_id: str) -> float:
    """A Redis stream entry ID's time (the server's clock, milliseconds) in seconds."""
    return int(entry_id.split("-", 1)[0]) / 1000


def rotate_all(svc: Services, r: Any, f: Fleet, version: int, timeout: float) -> tuple[float, int]:
    """Queue a rotation of every auth config as ``rotate --all`` does (batches of the default
    size: ``rotator.worker.app.batch_messages``); (seconds to the last success, non-successes)."""
    from rotator.core.batching import Entry
    from rotator.state.store import Keys
    from rotator.worker.app import batch_messages

    n = len(f.nanoids)
    r.delete(Keys.audit)
    messages = batch_messages([Entry(i, False, "cli") for i in f.nanoids], most=BATCH_SIZE)
    started = time.time()
    svc.send_messages((m.task, m.args, m.kwargs) for m in messages)

    def done() -> bool:
        svc.check_alive()
        return bool(r.xlen(Keys.audit) >= n) and applied_count(r, f.nanoids, version) == n

    # the time comes from the audit entries' IDs, not from the poll: a slow poll costs no
    # accuracy, and polls every 20 ms took 2% of the measured CPU from the workers
    wait_for(f"{n} rotations to be recorded at version {version}", done, timeout, step=0.1)
    entries = r.xrange(Keys.audit)
    ends = [stream_seconds(i) for i, e in entries if e.get("outcome") == "succeeded"]
    others = sum(1 for _, e in entries if e.get("outcome") != "succeeded")
    return max(ends) - started, others


class CpuMeter:
    """CPU seconds used by each process of the stack, summed over the runs measured."""

    def __init__(self, ctx: Context, svc: Services) -> None:
        self._ctx, self._svc = ctx, svc
        self.ours: dict[str, float] = {}
        self.bare: dict[str, float] = {}

    def snapshot(self) -> dict[str, float]:
        s = self._ctx.stack
        return {
            "workers": sum(cpu_seconds(pid) for pid in self._svc.worker_pids),
            "OpenBao": cpu_seconds(s.bao.pid),
            "Redis": cpu_seconds(s.redis.pid),
            "emulator": cpu_seconds(s.emulator.pid),
            "bench process": time.process_time(),
        }

    def add(self, into: dict[str, float], before: dict[str, float]) -> None:
        for name, value in self.snapshot().items():
            into[name] = into.get(name, 0.0) + value - before[name]

    @staticmethod
    def per_op(used: dict[str, float], ops: int) -> str:
        parts = [f"{k} {v / ops * 1000:.2f}" for k, v in used.items()]
        return f"{sum(used.values()) / ops * 1000:.2f} ms ({', '.join(parts)})"


def measure_rotation(ctx: Context) -> Row:
    o, f = ctx.options, ctx.fleets["rotation"]
    n = len(f.nanoids)
    # The shipped defaults (ROTATOR_RATE_LIMIT=auto, share 0.5) against an announced limit that
    # does not bind: Composio's Enterprise-sized 100,000/min (the share is 833/s).
    env = ctx.stack.env(prefix=f.prefix, db=DB)
    ctx.stack.emulator.set_rate_limit(ANNOUNCED, 60.0)
    r = ctx.redis(DB)
    ours: list[float] = []
    bare: list[float] = []
    others = 0
    timeout = 120 + n * 0.2
    with Services(env, ctx.logdir, "rotation") as svc:
        svc.start(o.workers, o.concurrency)
        cpu = CpuMeter(ctx, svc)
        for _ in range(o.reps):
            before = cpu.snapshot()
            result = run_bare_rotation(
                env, f.items(), o.workers, o.concurrency, ctx.logdir / "bare.log"
            )
            cpu.add(cpu.bare, before)
            cpu.bare["bare processes"] = cpu.bare.get("bare processes", 0.0) + result.cpu
            if result.ok != n:
                raise BenchError(f"bare loop: {result.failed} of {n} pushes failed")
            bare.append(result.seconds)
            write_versions(ctx.stack.vault, f.nanoids, f, o.threads)
            ctx.versions["rotation"] += 1
            before = cpu.snapshot()
            seconds, failed = rotate_all(svc, r, f, ctx.versions["rotation"], timeout)
            cpu.add(cpu.ours, before)
            ours.append(seconds)
            others += failed
        hwm = [vm_kib(pid) * 1024 / 1e6 for pid in svc.worker_pids]
    ctx.stack.emulator.set_rate_limit(None)
    r.close()
    t, b = statistics.median(ours), statistics.median(bare)
    ctx.note(
        f"full rotation runs (s): rotator {', '.join(f'{x:.2f}' for x in ours)}; "
        f"bare {', '.join(f'{x:.2f}' for x in bare)}; non-success audit events {others}; "
        f"workers' VmHWM after {o.reps * n:,} rotations: {', '.join(f'{m:.0f}' for m in hwm)} MB"
    )
    ctx.note(
        f"CPU per rotation, all processes: rotator {cpu.per_op(cpu.ours, o.reps * n)}; "
        f"bare loop {cpu.per_op(cpu.bare, o.reps * n)}"
    )
    what = f"full rotation, {n:,} configs ({o.workers} workers x {o.concurrency} threads)"
    return time_row(what, n, t, b, versus="bare loop", target=TARGET)
