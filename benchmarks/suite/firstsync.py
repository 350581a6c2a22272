"""The first sync of the big fleet: one sweep queues every (never applied) auth config and the
workers rotate them all; the clock runs from sending the sweep to the last success recorded in
Redis (the audit stream's entry ID is the Redis server's time in milliseconds).

Baseline: the bare loop (``benchmarks.suite.bare``) doing the same Vault reads and PATCHes with as
many processes and threads as the workers have, no Celery, no Redis. The first sync has a time
budget (``--sync-budget``): past it the rest of the queue is dropped, the remaining auth configs
are recorded as applied directly, and the row says the figure is a lower bound.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.suite.bare import run_bare_rotation
from benchmarks.suite.options import Context
from benchmarks.suite.report import MISS, Row, time_row
from benchmarks.suite.rotation import stream_seconds
from benchmarks.suite.seed import MOUNT, Fleet
from benchmarks.suite.workers import BenchError, Services, applied_count

__all__ = ["TARGET", "bare_sync", "first_sync", "mark_applied", "sync_row"]

TARGET = 1.3


def mark_applied(ctx: Context, r: Any, f: Fleet, version: int) -> int:
    """Record every auth config not yet applied at ``version`` as its rotation would have (the
    payload's and the binding's fingerprints, the version's creation time: in step for
    ``plan`` too), pushing nothing; how many written. Each secret is read once to know them."""
    from rotator.core.models import AppliedState, Binding
    from rotator.core.plan import extract_payload, fingerprint
    from rotator.core.plan_meta import binding_fingerprint
    from rotator.settings.load import load_fingerprint_key
    from rotator.state.store import Keys, StateStore
    from rotator.vault.client import VaultClient

    state = StateStore(r)
    pipe = r.pipeline(transaction=False)
    for nanoid in f.nanoids:
        pipe.hget(Keys.applied(nanoid), "version")
    missing = [n for n, v in zip(f.nanoids, pipe.execute(), strict=True) if v != str(version)]
    settings = ctx.stack.settings(prefix=f.prefix, db=0)
    key, now = load_fingerprint_key(settings), time.time()

    def applied(vault: VaultClient, nanoid: str) -> AppliedState:
        b = Binding(nanoid, MOUNT, f.path(nanoid))
        secret = vault.read_secret(MOUNT, b.path)
        if secret.version != version:
            raise BenchError(f"{b.vault_path} is at version {secret.version}, not {version}")
        fp = fingerprint(extract_payload(b, secret), key)
        bound = binding_fingerprint(b, key)
        return AppliedState(version, fp, now, None, b.vault_path, bound, secret.created_time)

    with VaultClient(settings) as vault, ThreadPoolExecutor(ctx.options.threads) as pool:
        states = list(pool.map(lambda n: applied(vault, n), missing))
    for nanoid, one in zip(missing, states, strict=True):
        state.record_success(nanoid, one, audit={"auth_config_id": nanoid})
    return len(missing)


def bare_sync(ctx: Context, env: dict[str, str]) -> float:
    """The bare loop over the whole big fleet: seconds (every push must succeed)."""
    o, f = ctx.options, ctx.fleets["sweep"]
    result = run_bare_rotation(env, f.items(), o.workers, o.concurrency, ctx.logdir / "bare.log")
    if result.ok != len(f.nanoids):
        raise BenchError(f"bare loop: {result.failed} of {len(f.nanoids)} pushes failed")
    return result.seconds


def first_sync(ctx: Context, svc: Services, r: Any) -> tuple[int, float]:
    """The first sweep and its rotations, within the budget: (auth configs synced, seconds to
    the last success)."""
    from rotator.state.keys import STREAM_MAXLEN
    from rotator.state.store import Keys
    from rotator.worker.app import QUEUE, SWEEP_TASK

    f, budget = ctx.fleets["sweep"], ctx.options.sync_budget
    n = len(f.nanoids)
    r.delete(Keys.audit)
    started = time.time()
    svc.send(SWEEP_TASK, [([], {})])
    done = 0
    while time.time() - started < budget:
        svc.check_alive()
        # the audit stream's length first (one command): reading every config's applied state
        # at each poll (10,000 reads every 0.2 s) took CPU from the workers being measured
        if r.xlen(Keys.audit) >= min(n, STREAM_MAXLEN):  # the stream keeps at most that
            done = applied_count(r, f.nanoids)
            if done == n:
                break
        time.sleep(0.2)
    else:
        done = applied_count(r, f.nanoids)
    ends = [stream_seconds(i) for i, e in r.xrange(Keys.audit) if e.get("outcome") == "succeeded"]
    seconds = (max(ends) if ends and done == n else time.time()) - started
    if done < n:
        r.delete(QUEUE)  # stop here: drop the rest of the queue, record the rest directly
        mark_applied(ctx, r, f, ctx.versions["sweep"])
    ctx.note(
        f"first sync through the workers (a sweep + rotations): {done:,} of {n:,} auth configs "
        f"in {seconds:.1f} s ({done / seconds:,.1f}/s)"
        + ("" if done == n else f"; stopped at the {budget:.0f} s budget")
    )
    return done, seconds


def sync_row(ctx: Context, done: int, seconds: float, bare: float) -> Row:
    o, n = ctx.options, len(ctx.fleets["sweep"].nanoids)
    what = (
        f"first sync, {n:,} configs (a sweep + rotations, {o.workers} workers x "
        f"{o.concurrency} threads)"
    )
    if done == n:
        return time_row(what, n, seconds, bare, versus="bare loop", target=TARGET)
    return Row(
        what,
        f">= {seconds:.0f} s: {done:,} of {n:,} within the budget",
        f"{bare:.2f} s ({n / bare:,.0f}/s) bare loop",
        f">= {seconds / bare:.2f}x (target <= {TARGET}x)",
        f"{MISS} (incomplete)",
        {"rotator_s": seconds, "baseline_s": bare, "ratio": seconds / bare, "rotations": done},
    )
