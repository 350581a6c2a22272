"""``rotator plan --json`` and ``rotator status --json`` on the big fleet, every config in step.

rotator: the whole command as an operator runs it (``python -m rotator plan --json`` in a
subprocess with the phase's settings), wall time from spawn to exit, interpreter start-up
included; its JSON is checked (one row per auth config, all in step). Baseline: the KV v2
metadata reads of the same paths in this process, as many threads as a worker has
(``benchmarks.suite.noop.bare_metadata_reads``). Runs alternate; medians are compared. Runs after
the peak-RSS phase, which leaves the whole fleet applied in its Redis database.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.suite.firstsync import mark_applied
from benchmarks.suite.memory import DB
from benchmarks.suite.noop import bare_metadata_reads
from benchmarks.suite.options import Context
from benchmarks.suite.report import Row, time_row
from benchmarks.suite.stack import clean_environ
from benchmarks.suite.workers import BenchError

__all__ = ["TARGET", "measure_commands"]

TARGET = 1.2

Check = Callable[[list[dict[str, Any]]], bool]

# command -> what every row of its JSON must say when the whole fleet is in step (``plan``: from
# metadata alone, ``rotator.core.plan_meta``; ``mark_applied`` records what a rotation would)
COMMANDS: dict[str, Check] = {
    "plan": lambda rows: all(r.get("action") == "skip" for r in rows),
    "status": lambda rows: all(r.get("state") == "synced" for r in rows),
}


def _run(ctx: Context, env: dict[str, str], command: str, n: int) -> float:
    """``python -m rotator COMMAND --json``: wall seconds; its output must show ``n`` in step."""
    log = ctx.logdir / f"cli-{command}.log"
    started = time.perf_counter()
    with log.open("ab") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "rotator", command, "--json"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            timeout=600,
            check=False,
        )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise BenchError(f"rotator {command} --json exited {proc.returncode}; see {log}")
    rows = json.loads(proc.stdout)
    if len(rows) != n or not COMMANDS[command](rows):
        raise BenchError(f"rotator {command} --json did not show {n:,} auth configs in step")
    return seconds


def measure_commands(ctx: Context) -> list[Row]:
    from rotator.vault.client import VaultClient

    o, f = ctx.options, ctx.fleets["sweep"]
    n = len(f.nanoids)
    r = ctx.redis(DB)
    try:
        mark_applied(ctx, r, f, ctx.versions["sweep"])  # in step even when the first sync was cut
    finally:
        r.close()
    env = {**clean_environ(), **ctx.stack.env(prefix=f.prefix, db=DB, ROTATOR_RATE_LIMIT="0")}
    paths = [p for _, p in f.items()]
    vault = VaultClient(ctx.stack.settings(prefix=f.prefix, db=DB))
    times: dict[str, list[tuple[float, float]]] = {c: [] for c in COMMANDS}
    try:
        bare_metadata_reads(vault, paths, o.concurrency)  # warm the connection pool
        for _ in range(o.reps):
            for command in COMMANDS:
                b = bare_metadata_reads(vault, paths, o.concurrency)
                times[command].append((_run(ctx, env, command, n), b))
    finally:
        vault.close()
    rows = []
    for command, runs in times.items():
        s = statistics.median(t[0] for t in runs)
        b = statistics.median(t[1] for t in runs)
        ctx.note(
            f"rotator {command} --json runs (s): "
            + ", ".join(f"{t[0]:.2f}" for t in runs)
            + "; bare metadata reads "
            + ", ".join(f"{t[1]:.2f}" for t in runs)
        )
        what = f"rotator {command} --json, {n:,} configs in step (subprocess, whole command)"
        bare = f"bare metadata reads, {o.concurrency} threads"
        rows.append(time_row(what, n, s, b, versus=bare, target=TARGET))
    return rows
