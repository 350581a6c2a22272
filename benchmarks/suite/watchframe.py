"""``rotator status --watch`` on the big fleet, every config in step: how long each refresh
takes against the default interval (2 s). A frame is what the command does each interval: the
rows (Redis in one script call per 1,024 configs, Vault's versions re-read within half the
interval, oldest first, ``console.watch_feed``) and the rendering of a 40-row terminal frame.
The first frame reads every Vault version once (as ``rotator status`` does) and is reported
apart. The fleet is recorded applied first (as the commands phase does), so ``--only 'status
--watch'`` measures a fleet in step too.
"""

from __future__ import annotations

import io
import time

from rich.console import Console

from benchmarks.suite.firstsync import mark_applied
from benchmarks.suite.memory import DB
from benchmarks.suite.options import Context
from benchmarks.suite.report import Row, verdict
from benchmarks.suite.workers import BenchError

__all__ = ["INTERVAL", "measure_watch"]

INTERVAL = 2.0  # status --watch's default --interval
FRAMES = 5


def measure_watch(ctx: Context) -> Row:
    from rotator.console.watch import render_watch
    from rotator.console.watch_feed import Feed
    from rotator.runtime import build_runtime

    f = ctx.fleets["sweep"]
    n = len(f.nanoids)
    rt = build_runtime(ctx.stack.settings(prefix=f.prefix, db=DB, ROTATOR_RATE_LIMIT="0"))
    mark_applied(ctx, rt.state.redis, f, ctx.versions["sweep"])  # in step, even run on its own
    console = Console(file=io.StringIO(), width=80)
    try:
        feed = Feed(rt, budget=INTERVAL / 2)
        times = []
        for _ in range(FRAMES + 1):
            started = time.perf_counter()
            rows = feed.rows()
            frame = render_watch(
                rows, rt.state.last_sweep(), interval=60, now=time.time(), limit=40
            )
            console.print(frame)
            times.append(time.perf_counter() - started)
            if len(rows) != n:
                raise BenchError(f"status --watch showed {len(rows):,} rows, not {n:,}")
    finally:
        rt.close()
    first, later = times[0], times[1:]
    worst = max(later)
    ctx.note("status --watch frames (s): " + ", ".join(f"{t:.2f}" for t in times))
    return Row(
        f"status --watch refresh, {n:,} configs in step (first frame {first:.1f} s)",
        f"{worst:.2f} s (worst of {FRAMES} frames)",
        f"the {INTERVAL:.0f} s default interval",
        f"{worst / INTERVAL:.2f} of the interval (target <= 1)",
        verdict(worst <= INTERVAL),
        {"frame_s": worst, "first_frame_s": first, "interval_s": INTERVAL},
    )
