"""No-op sweep: every auth config already in step; how close is the sweep to bare reads?

rotator: ``rotator.worker.sweep.sweep`` in this process (recursive LIST, a metadata read per auth
config, the Redis briefs, the decisions; nothing queued). Baseline: the KV v2 metadata reads of
the same paths, through the same client with the same number of threads, nothing else. Runs
alternate; medians are compared.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.suite.firstsync import mark_applied
from benchmarks.suite.memory import DB
from benchmarks.suite.options import Context
from benchmarks.suite.report import Row, time_row
from benchmarks.suite.seed import MOUNT
from benchmarks.suite.workers import BenchError

__all__ = ["TARGET", "bare_metadata_reads", "measure_noop_sweep"]

TARGET = 1.2


def bare_metadata_reads(vault: Any, paths: list[str], threads: int) -> float:
    """The baseline: one KV v2 metadata read per path, ``threads`` at a time; seconds taken."""
    return _bare(lambda p: vault.current_version(MOUNT, p), paths, threads, "metadata")


def _bare(read: Callable[[str], object], paths: list[str], threads: int, what: str) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        done = list(pool.map(read, paths))
    if len(done) != len(paths):
        raise BenchError(f"bare {what} reads: some paths were not read")
    return time.perf_counter() - started


def measure_noop_sweep(ctx: Context) -> Row:
    from rotator.runtime import build_runtime
    from rotator.worker.sweep import sweep

    o, f = ctx.options, ctx.fleets["sweep"]
    n = len(f.nanoids)
    r = ctx.redis(DB)
    try:
        mark_applied(ctx, r, f, ctx.versions["sweep"])
    finally:
        r.close()
    rt = build_runtime(ctx.stack.settings(prefix=f.prefix, db=DB, ROTATOR_RATE_LIMIT="0"))
    paths = [p for _, p in f.items()]
    queued: list[str] = []

    def bare() -> float:
        return bare_metadata_reads(rt.vault, paths, o.concurrency)

    def ours() -> float:
        started = time.perf_counter()
        summary = sweep(
            rt, lambda i, force: queued.append(i), queue_ttl=3600, threads=o.concurrency
        )
        seconds = time.perf_counter() - started
        if summary.checked != n or summary.queued or summary.errors or queued:
            raise BenchError(f"the sweep was not a no-op over {n} auth configs: {summary}")
        return seconds

    try:
        bare()  # warm the connection pool once, for both
        times = [(bare(), ours()) for _ in range(o.reps)]
    finally:
        rt.close()
    b = statistics.median(t[0] for t in times)
    s = statistics.median(t[1] for t in times)
    ctx.note(
        "no-op sweep runs (s): rotator "
        + ", ".join(f"{t[1]:.2f}" for t in times)
        + "; bare "
        + ", ".join(f"{t[0]:.2f}" for t in times)
    )
    what = f"no-op sweep, {n:,} configs in step ({o.concurrency} threads, in-process)"
    return time_row(what, n, s, b, versus="bare metadata reads", target=TARGET)
