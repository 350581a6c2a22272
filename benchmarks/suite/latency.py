"""Detection latency: a new Vault version -> Composio answers 200 to the PATCH carrying it.

A real beat subprocess runs the sweep task every ``--sweep-interval`` seconds and the workers
rotate what it queues. New versions are written one at a time, spaced by a fraction of the
interval that is not a simple ratio of it, so that they land at every phase of the sweep cycle.
Latency = the emulator journal's time of the first 200 PATCH for that auth config after the
write, minus the time the write returned (same machine, same wall clock).

Baseline: an ideal poller with the same interval (a write waits U(0, interval) for the next
poll) plus the time one bare read + PATCH takes, measured here.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.suite.bare import bare_push, clients
from benchmarks.suite.options import Context
from benchmarks.suite.report import Row, verdict
from benchmarks.suite.seed import MOUNT, secret_data
from benchmarks.suite.workers import Services, applied_count, wait_for

__all__ = ["DB", "measure_latency"]

DB = 2
SLACK = 2.0  # target: p95 <= interval + SLACK
SPACING = 0.27  # of the interval, between two writes


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _push_seconds(env: dict[str, str], items: list[tuple[str, str]]) -> float:
    """Median time of one bare read + PATCH, in this process."""
    vault, composio, mount = clients(env)
    times = []
    try:
        for nanoid, path in items:
            started = time.perf_counter()
            bare_push(vault, composio, mount, nanoid, path)
            times.append(time.perf_counter() - started)
    finally:
        vault.close()
        composio.close()
    return statistics.median(times)


def _first_200(journal: list[dict[str, Any]], nanoid: str, after: float) -> float | None:
    times = [
        float(e["time"])
        for e in journal
        if e.get("nanoid") == nanoid
        and e.get("method") == "PATCH"
        and e.get("status") == 200
        and float(e["time"]) >= after
    ]
    return min(times) if times else None


def measure_latency(ctx: Context) -> list[Row]:
    o, f = ctx.options, ctx.fleets["latency"]
    interval = o.sweep_interval
    env = ctx.stack.env(
        prefix=f.prefix, db=DB, ROTATOR_SWEEP_INTERVAL=f"{interval:g}", ROTATOR_RATE_LIMIT="0"
    )
    emulator, vault = ctx.stack.emulator, ctx.stack.vault
    targets = list(f.nanoids[: o.latency_writes])
    r = ctx.redis(DB)
    written: dict[str, float] = {}
    with Services(env, ctx.logdir, "latency") as svc:
        svc.start(o.workers, o.concurrency, beat=True)
        version = ctx.versions["latency"]

        def synced() -> bool:
            svc.check_alive()
            return applied_count(r, f.nanoids, version) == len(f.nanoids)

        wait_for("the first sweep to sync the latency fleet", synced, interval * 3 + 60, 0.1)
        emulator.clear_journal()
        started = time.monotonic()
        for k, nanoid in enumerate(targets):
            time.sleep(max(0.0, started + k * interval * SPACING - time.monotonic()))
            vault.write_secret(MOUNT, f.path(nanoid), secret_data(nanoid))
            written[nanoid] = time.time()
        seen: dict[str, float] = {}

        def all_seen() -> bool:
            svc.check_alive()
            journal = emulator.journal()
            for nanoid in targets:
                if nanoid not in seen:
                    at = _first_200(journal, nanoid, written[nanoid])
                    if at is not None:
                        seen[nanoid] = at - written[nanoid]
            return len(seen) == len(targets)

        wait_for("every written version to reach Composio", all_seen, interval * 3 + 60, 0.25)
    r.close()
    lat = sorted(seen.values())
    push = _push_seconds(env, f.items()[: min(len(f.nanoids), 10)])
    p50, p95 = _quantile(lat, 0.50), _quantile(lat, 0.95)
    ideal50, ideal95 = 0.5 * interval + push, 0.95 * interval + push
    ctx.note(
        f"detection latencies (s, {len(lat)} writes {interval * SPACING:.2f} s apart): "
        + ", ".join(f"{x:.2f}" for x in lat)
        + f"; one bare read + PATCH: {push * 1000:.1f} ms"
    )
    what = f"{len(lat)} writes, {interval:g} s sweep"
    return [
        Row(
            f"detection latency p50 ({what})",
            f"{p50:.2f} s",
            f"{ideal50:.2f} s ideal {interval:g} s poller",
            f"{p50 - ideal50:+.2f} s vs ideal (no target)",
            "-",
            {"rotator_s": p50, "baseline_s": ideal50},
        ),
        Row(
            f"detection latency p95 ({what})",
            f"{p95:.2f} s",
            f"{ideal95:.2f} s ideal {interval:g} s poller",
            f"target <= {interval + SLACK:g} s",
            verdict(p95 <= interval + SLACK),
            {"rotator_s": p95, "baseline_s": ideal95},
        ),
    ]
