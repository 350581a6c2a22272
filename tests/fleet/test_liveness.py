"""Liveness with the SHIPPED DEFAULTS (visibility timeout 30 s, lock TTL 30 s, queue TTL 270 s,
retry delays as shipped): a SIGKILLed worker's messages come back by themselves as the same
task ids, and a message that vanished outright is queued again by the sweep.

Only the log format is set (JSON, so the logs can be read); everything else is the default.
Real Redis, OpenBao, emulator and worker subprocesses; no beat runs.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterable

import pytest

from rotator.core.batching import batch_size
from rotator.devkit.emulator import Fault
from rotator.state.store import Keys
from rotator.worker.sweep import sweep
from tests.faults_support import (
    Workers,
    default_env,
    explain,
    in_step,
    patch_counts,
    patched,
    recorded,
    seed,
    wait_for,
)
from tests.helpers import Stack
from tests.procs import Procs, assert_cli_ok, run_cli, wait_until


def task_ids(cli_output: str) -> dict[str, str]:
    """nanoid -> task id, from ``rotate``'s "queued <nanoid> task <id>" lines."""
    return dict(re.findall(r"queued (\S+) task ([0-9a-f-]+)", cli_output))


KILL_CONFIGS = 200
CONCURRENCY = 16  # the shipped ROTATOR_WORKER_CONCURRENCY
BATCH_SIZE = 25  # the shipped ROTATOR_BATCH_SIZE


@pytest.mark.timeout(240)
def test_a_sigkilled_worker_s_rotations_converge_within_90s_of_a_new_worker_with_defaults(
    stack: Stack, workers: Workers
) -> None:
    """200 queued rotations at 50 ms PATCH latency, the worker SIGKILLed mid-run (shown to hit
    PATCHes in flight and tasks it never finished), a new worker started, no beat: every config
    converges within 90 s and every task cut short finishes as the same task id. Duplicate
    PATCHes are at most the dead worker's concurrency (only a task killed between its PATCH and
    its record repeats a PATCH)."""
    ids = [f"ac_l{n:03d}" for n in range(KILL_CONFIGS)]
    seed(stack, ids)
    delay = 0.05
    stack.emu.inject(Fault(delay=delay), times=None)
    env = default_env(stack)
    procs = workers.group(env)
    victim = procs.worker("w1", CONCURRENCY)
    assert_cli_ok(run_cli(env, "rotate", "--all"))
    wait_until("40 PATCHes", patched(stack.emu, 40), 60)
    killed_at = time.time()
    procs.kill(victim)
    in_flight = [e.request_id for e in stack.emu.patches() if e.time > killed_at - delay]
    log = procs.log_of[victim.pid].read_text(errors="replace")
    unanswered = [r for r in in_flight if r not in log]
    cut_short = procs.unfinished(victim)
    seen_at_kill = len(stack.emu.patches())
    started = time.time()
    procs.worker("w2", CONCURRENCY)
    assert cut_short, "the killed worker had no task running or reserved"
    wait_until(
        "every task cut short finished as the same task id",
        lambda: all(f"[{t}] succeeded" in procs.output() for t in cut_short),
        90,
    )
    lost = _wait_converged_but_lost(stack, ids, procs, started + 90)
    recovery = time.time() - started
    # A message BRPOPped but not yet written to kombu's unacked hash when the kill landed is
    # gone from Redis (kombu has no atomic fetch): nothing can redeliver it, only the sweep
    # queues it again (see the vanished-message test). At most the one fetch in flight: one
    # task, which carries a batch of configs (rotate --all of 200 batches them).
    most = batch_size(KILL_CONFIGS, most=BATCH_SIZE)
    assert len(lost) <= most, f"lost more than the one message a fetch can hold: {lost}"
    if lost:
        sweep(stack.rt, lambda n, f: _inline(stack, n, f), queue_ttl=270.0)
        assert not in_step(stack.emu, ids)
    counts = patch_counts(stack.emu)
    duplicates = sum(c - 1 for c in counts.values())
    print(
        f"liveness: killed after {seen_at_kill} PATCHes seen, {len(unanswered)} "
        f"unanswered, {len(cut_short)} tasks cut short; all converged {recovery:.1f} s after "
        f"the new worker started; {duplicates} duplicate PATCHes; lost in the fetch: {lost}"
    )
    assert recovery <= 90
    assert set(counts) == set(ids)
    assert duplicates <= CONCURRENCY, f"{duplicates} duplicate PATCHes > {CONCURRENCY}"
    assert stack.rt.state.dead_letters() == []
    procs.assert_clean()


def _inline(stack: Stack, nanoid: str, force: bool) -> None:
    stack.rt.service.rotate(nanoid, force=force)


def _wait_converged_but_lost(stack: Stack, ids: list[str], procs: Procs, until: float) -> list[str]:
    """Wait until every config is in step or provably lost: never logged by any worker, not
    in the broker's queue and not in kombu's unacked hash. Returns the lost ones."""

    def lost() -> list[str] | None:
        behind = in_step(stack.emu, ids) + recorded(stack, ids)
        if not behind:
            return []
        text = procs.output()
        redis = stack.rt.state.redis
        held = " ".join(map(str, redis.lrange("rotator", 0, -1) + redis.hvals("unacked")))
        gone = [n for n in set(behind) if n not in text and n not in held]
        return gone if len(gone) == len(set(behind)) else None

    wait_for(
        "every auth config in step or lost in the fetch",
        lambda: lost() is not None,
        max(1.0, until - time.time()),
        lambda: explain(stack, ids, procs),
    )
    return sorted(lost() or [])


COUNTDOWN_CONFIGS = 6


@pytest.mark.timeout(180)
def test_rotations_held_in_a_retry_countdown_by_a_killed_worker_finish_within_60s(
    stack: Stack, workers: Workers
) -> None:
    """Each config's first PATCH answers 503 with Retry-After: 20, so the only worker holds
    every requeued message in a 20 s countdown (longer than the in-call max wait). SIGKILL it
    while it holds them all (kombu's unacked hash has them, the queue is empty), then start a
    new worker: it gets every one back, as the same task id, and finishes it within 60 s of the
    kill."""
    ids = [f"ac_r{n:02d}" for n in range(COUNTDOWN_CONFIGS)]
    seed(stack, ids)
    for nanoid in ids:
        stack.emu.inject(Fault(status=503, retry_after="20"), nanoid=nanoid)
    env = default_env(stack)
    procs = workers.group(env)
    victim = procs.worker("w1", CONCURRENCY)
    res = run_cli(env, "rotate", *ids)
    assert_cli_ok(res)
    queued = task_ids(res.stdout + res.stderr)
    assert set(queued) == set(ids)
    redis = stack.rt.state.redis
    wait_until(
        "every retry held by the worker",
        lambda: (
            _retried_by(procs, victim) == set(queued.values())
            and redis.hlen("unacked") == COUNTDOWN_CONFIGS
            and redis.llen("rotator") == 0
        ),
        60,
    )
    killed_at = time.time()
    procs.kill(victim)
    survivor = procs.worker("w2", CONCURRENCY)
    why = lambda: explain(stack, ids, procs)  # noqa: E731
    wait_for("every task id finished", lambda: _all_succeeded(procs, queued.values()), 60, why)
    finished = time.time() - killed_at
    print(f"liveness: countdown rotations of the killed worker finished {finished:.1f} s after")
    assert finished <= 60
    assert not in_step(stack.emu, ids)
    survivor_log = procs.log_of[survivor.pid].read_text(errors="replace")
    for task_id in queued.values():
        assert f"rotator.rotate[{task_id}] succeeded" in survivor_log
    # six configs answering 503 at once is an outage by the fleet breaker's rule: it opens
    procs.assert_clean(allowed=[r'"event": "composio\.circuit_open"'])


def _all_succeeded(procs: Procs, task_ids: Iterable[str]) -> bool:
    text = procs.output()
    return all(f"rotator.rotate[{t}] succeeded" in text for t in task_ids)


def _retried_by(procs: Procs, proc: subprocess.Popen[bytes]) -> set[str]:
    text = procs.log_of[proc.pid].read_text(errors="replace")
    return set(re.findall(r"rotator\.rotate\[([0-9a-f-]+)\] retry", text))


def test_a_vanished_message_is_queued_again_by_the_sweep_within_5_minutes_with_defaults(
    stack: Stack,
) -> None:
    """The sweep queues a rotation whose message then vanishes (never sent: a flushed queue).
    Its dedupe key lives the default queue TTL (270 s), not renewed by any worker: sweeps every
    60 s (the default interval) skip it at 60..240 s and queue it again at 300 s. With no worker
    the sweep therefore adds one message per config per 300 s. Redis time cannot be moved, so
    the passage of time is played by setting each key's remaining TTL to what it would be."""
    ids = ["ac_v01", "ac_v02"]
    seed(stack, ids)
    s = stack.rt.settings
    assert (s.queue_ttl, s.sweep_interval) == (270.0, 60.0)  # the defaults, as shipped
    sent: list[str] = []
    first = sweep(stack.rt, lambda n, _f: sent.append(n), queue_ttl=s.queue_ttl)
    assert first.queued == 2 and sorted(sent) == ids
    redis = stack.rt.state.redis
    for nanoid in ids:
        assert 260_000 < redis.pttl(Keys.queued(nanoid)) <= 270_000
    queued_at = {n: 0.0 for n in ids}
    for at in range(60, 601, 60):
        for nanoid in ids:
            left = queued_at[nanoid] + s.queue_ttl - at
            if left > 0:
                redis.pexpire(Keys.queued(nanoid), int(left * 1000))
            else:
                redis.delete(Keys.queued(nanoid))
        before = len(sent)
        sweep(stack.rt, lambda n, _f: sent.append(n), queue_ttl=s.queue_ttl)
        for nanoid in sent[before:]:
            assert at - queued_at[nanoid] == 300, f"{nanoid} queued again {at} s after"
            queued_at[nanoid] = float(at)
    assert sorted(sent) == sorted(ids * 3)  # at 0, 300 and 600 s: one per config per 5 min


@pytest.mark.timeout(180)
def test_a_live_worker_s_countdown_longer_than_the_visibility_timeout_is_never_redelivered(
    stack: Stack, workers: Workers
) -> None:
    """A 503 with Retry-After: 45 puts each rotation in a countdown longer than the default
    30 s visibility timeout (+ the 7 s restore scan). The live worker renews what it holds, so
    kombu never restores it: each task id is received exactly twice (the first delivery and the
    retry), and each config gets exactly two PATCHes (kombu#337's redelivery loop is gone)."""
    ids = ["ac_e01", "ac_e02"]
    seed(stack, ids)
    for nanoid in ids:
        stack.emu.inject(Fault(status=503, retry_after="45"), nanoid=nanoid)
    env = default_env(stack)
    procs = workers.group(env)
    procs.worker("w1", CONCURRENCY)
    res = run_cli(env, "rotate", *ids)
    assert_cli_ok(res)
    queued = task_ids(res.stdout + res.stderr)
    why = lambda: explain(stack, ids, procs)  # noqa: E731
    wait_for("every task id finished", lambda: _all_succeeded(procs, queued.values()), 90, why)
    text = procs.output()
    for task_id in queued.values():
        assert text.count(f"rotator.rotate[{task_id}] received") == 2
    assert patch_counts(stack.emu) == dict.fromkeys(ids, 2)
    procs.assert_clean()
