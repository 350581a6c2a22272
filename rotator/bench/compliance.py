"""Rate-limit compliance: the emulator enforces ``limit`` requests per ``window`` (a fixed window
starting at the first request, as Composio counts) and rotator is configured to the same budget
with ``ROTATOR_RATE_LIMIT``. A backlog larger than the observed windows can carry is queued; the
share is the 200 PATCHes inside the first ``windows`` emulator windows over what they allow.

The default run uses 100 requests per 10 s (Composio's 600/min scaled to a 10 s window, so three
windows take 30 s instead of three minutes); ``--rate-limit``/``--rate-window`` change it.
"""

from __future__ import annotations

import time
from typing import Any

from rotator.bench.options import Context
from rotator.bench.report import Row, verdict
from rotator.bench.workers import BenchError, Services, wait_for

__all__ = ["DB", "TARGET", "measure_compliance"]

DB = 3
TARGET = 0.9


def _patches(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((e for e in journal if e.get("method") == "PATCH"), key=lambda e: e["time"])


def _supported() -> bool:
    from rotator.config import Settings

    return "rate_limit" in Settings.__dataclass_fields__


def measure_compliance(ctx: Context) -> list[Row]:
    from rotator.app import QUEUE, ROTATE_TASK

    if not _supported():
        raise BenchError("this rotator has no ROTATOR_RATE_LIMIT setting")
    o, f = ctx.options, ctx.fleets["rotation"]
    limit, window, windows = o.rate_limit, o.rate_window, o.rate_windows
    backlog = list(f.nanoids[: limit * (windows + 1)])
    if len(backlog) <= limit * windows:
        raise BenchError(f"--configs must exceed {limit * windows} for this rate limit")
    env = ctx.stack.env(prefix=f.prefix, db=DB, ROTATOR_RATE_LIMIT=f"{limit}/{window:g}s")
    emulator = ctx.stack.emulator
    emulator.clear_journal()
    emulator.set_rate_limit(limit, window)
    r = ctx.redis(DB)
    try:
        with Services(env, ctx.logdir, "ratelimit") as svc:
            svc.start(o.workers, o.concurrency)
            svc.send(ROTATE_TASK, (([i], {"force": True, "version": None}) for i in backlog))
            wait_for("the first PATCH", lambda: bool(_patches(emulator.journal())), 60, 0.1)
            first = _patches(emulator.journal())[0]["time"]
            end = first + windows * window
            while time.time() < end + 0.5:
                svc.check_alive()
                time.sleep(0.2)
            r.delete(QUEUE)  # drop what is left of the backlog before stopping the workers
            journal = _patches(emulator.journal())
    finally:
        emulator.set_rate_limit(None)
        r.close()
    inside = [e for e in journal if e["time"] < end]
    ok = sum(1 for e in inside if e.get("status") == 200)
    refused = sum(1 for e in journal if e.get("status") == 429)
    allowed = limit * windows
    share = ok / allowed
    rate = ok / (windows * window)
    ctx.note(
        f"rate limit: emulator {limit} per {window:g} s (fixed window), "
        f"ROTATOR_RATE_LIMIT={limit}/{window:g}s; {ok} PATCH 200s in {windows} windows, "
        f"{len(journal)} PATCHes and {refused} 429s until the workers stopped"
    )
    return [
        Row(
            f"rate-limit compliance ({limit} per {window:g} s, {windows} windows)",
            f"{rate:.2f} PATCH/s = {share:.0%} of the limit",
            f"{limit / window:.2f} PATCH/s allowed by the emulator",
            f"{share:.0%} (target >= {TARGET:.0%})",
            verdict(share >= TARGET),
            {"rotator_per_s": rate, "baseline_per_s": limit / window, "share": share},
        ),
        Row(
            "429 answers during the rate-limit run",
            f"{refused}",
            "0 allowed",
            "target 0",
            verdict(refused == 0),
            {"rotator_429": refused},
        ),
    ]
