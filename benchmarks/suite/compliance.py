"""Rate-limit compliance: the emulator enforces ``limit`` requests per ``window`` (a fixed window
starting at the first request, as Composio counts) and rotator is configured to the same budget
as a cap on top of its default share (0.5) of the announced limit: its budget is the lower of
the two. A backlog larger than the observed windows can carry is queued; the figure is the 200
PATCHes inside the first ``windows`` emulator windows over what the budget allows.

The default run uses 100 requests per 10 s (Composio's 600/min scaled to a 10 s window, so three
windows take 30 s instead of three minutes); ``--rate-limit``/``--rate-window`` change it.

The Starter measure runs rotator with its shipped defaults (``ROTATOR_RATE_LIMIT=auto``,
``ROTATOR_RATE_LIMIT_SHARE`` 0.5) while the emulator announces (``X-RateLimit``,
``X-RateLimit-Window-Size``) and enforces Composio's Starter limit, 2,000 per 60 s scaled to
200 per 6 s (the same rate, two windows in 12 s); its share is the 200 PATCHes inside the
windows over what half the announced limit allows.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.suite.options import Context
from benchmarks.suite.report import Row, verdict
from benchmarks.suite.workers import BenchError, Services, wait_for

__all__ = ["DB", "STARTER_DB", "TARGET", "measure_compliance", "measure_starter"]

DB = 3
STARTER_DB = 4
TARGET = 0.9


def _patches(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((e for e in journal if e.get("method") == "PATCH"), key=lambda e: e["time"])


def _supported() -> bool:
    from rotator.settings.load import Settings

    return "rate_limit" in Settings.__dataclass_fields__


def _limited_run(
    ctx: Context, env: dict[str, str], db: int, limit: tuple[int, float, int], backlog: list[str]
) -> tuple[list[dict[str, Any]], float]:
    """The emulator enforcing (and announcing) ``limit`` = (requests, per seconds, windows
    observed), the backlog queued: (the PATCHes journalled until the workers stopped, the end of
    the windows observed)."""
    from rotator.worker.app import QUEUE, ROTATE_TASK

    o = ctx.options
    count, window, windows = limit
    emulator = ctx.stack.emulator
    emulator.clear_journal()
    emulator.set_rate_limit(count, window)
    r = ctx.redis(db)
    try:
        with Services(env, ctx.logdir, f"ratelimit-{db}") as svc:
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
    return journal, end


def _counts(journal: list[dict[str, Any]], end: float) -> tuple[int, int]:
    """(200 PATCHes inside the windows observed, 429s until the workers stopped)."""
    ok = sum(1 for e in journal if e["time"] < end and e.get("status") == 200)
    return ok, sum(1 for e in journal if e.get("status") == 429)


def _refused_row(what: str, refused: int) -> Row:
    return Row(
        what, f"{refused}", "0 allowed", "target 0", verdict(refused == 0), {"rotator_429": refused}
    )


def measure_compliance(ctx: Context) -> list[Row]:
    if not _supported():
        raise BenchError("this rotator has no ROTATOR_RATE_LIMIT setting")
    o, f = ctx.options, ctx.fleets["rotation"]
    limit, window, windows = o.rate_limit, o.rate_window, o.rate_windows
    backlog = list(f.nanoids[: limit * (windows + 1)])
    if len(backlog) <= limit * windows:
        raise BenchError(f"--configs must exceed {limit * windows} for this rate limit")
    from rotator.settings.load import load_settings

    env = ctx.stack.env(prefix=f.prefix, db=DB, ROTATOR_RATE_LIMIT=f"{limit}/{window:g}s")
    share = load_settings(env).rate_limit_share
    # rotator's budget: the explicit cap on top of its share of the announced limit
    budget = min(limit, share * limit)
    journal, end = _limited_run(ctx, env, DB, (limit, window, windows), backlog)
    ok, refused = _counts(journal, end)
    used = ok / (budget * windows)
    rate = ok / (windows * window)
    ctx.note(
        f"rate limit: emulator {limit} per {window:g} s (fixed window), "
        f"ROTATOR_RATE_LIMIT={limit}/{window:g}s on top of the share {share:g}; "
        f"{ok} PATCH 200s in {windows} windows, "
        f"{len(journal)} PATCHes and {refused} 429s until the workers stopped"
    )
    return [
        Row(
            f"rate-limit compliance ({limit} per {window:g} s, cap {limit}/{window:g}s, "
            f"{windows} windows)",
            f"{rate:.2f} PATCH/s = {used:.0%} of rotator's budget",
            f"{budget / window:.2f} PATCH/s = the cap or {share:g} x the announced limit, "
            "the lower",
            f"{used:.0%} (target >= {TARGET:.0%})",
            verdict(used >= TARGET),
            {"rotator_per_s": rate, "baseline_per_s": budget / window, "share": used},
        ),
        _refused_row("429 answers during the rate-limit run", refused),
    ]


def measure_starter(ctx: Context) -> list[Row]:
    """The shipped defaults (``ROTATOR_RATE_LIMIT=auto``, share 0.5) under an announced Starter
    limit, 2,000 per 60 s scaled down to ``Options.starter_limit`` per ``starter_window``."""
    from rotator.settings.load import load_settings

    o, f = ctx.options, ctx.fleets["rotation"]
    limit, window, windows = o.starter_limit, o.starter_window, o.starter_windows
    env = ctx.stack.env(prefix=f.prefix, db=STARTER_DB)
    share = load_settings(env).rate_limit_share
    allowed = share * limit * windows  # what rotator's share lets through in the windows
    backlog = list(f.nanoids[: int(allowed) * 2])
    if len(backlog) <= allowed:
        raise BenchError(f"--configs must exceed {allowed:.0f} for the Starter measure")
    journal, end = _limited_run(ctx, env, STARTER_DB, (limit, window, windows), backlog)
    ok, refused = _counts(journal, end)
    used = ok / allowed
    rate = ok / (windows * window)
    per_minute = limit * 60 / window
    scaled = f"{limit} per {window:g} s" + (
        f" (= {per_minute:,.0f} per 60 s, window scaled down)" if window != 60 else ""
    )
    ctx.note(
        f"Starter limit: emulator announces and enforces {scaled}; rotator's defaults "
        f"(auto, share {share:g}); {ok} PATCH 200s in {windows} windows, {len(journal)} "
        f"PATCHes and {refused} 429s until the workers stopped"
    )
    return [
        Row(
            f"Starter rate limit, defaults (auto, share {share:g}), {scaled}, {windows} windows",
            f"{rate:.2f} PATCH/s = {used:.0%} of the share",
            f"{share * limit / window:.2f} PATCH/s = {share:g} x the announced limit",
            f"{used:.0%} (target >= {TARGET:.0%})",
            verdict(used >= TARGET),
            {"rotator_per_s": rate, "baseline_per_s": share * limit / window, "share": used},
        ),
        _refused_row("Starter-limit 429 answers", refused),
    ]
