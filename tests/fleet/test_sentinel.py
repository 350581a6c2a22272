"""Redis Sentinel end to end: a real group (one primary, one replica, three sentinels), a real
worker and a real beat, the primary SIGKILLed mid-run.

Shipped defaults for the visibility timeout (3,600 s) and the lock TTL (300 s). The short
settings kept from tests/procs.py (sweep every 1 s, in-call attempts 1, retry delays of at most
2 s) only make the run quick; the failover itself is timed by the group's own sentinel settings
(down-after 1 s, failover-timeout 5 s: tests/sentinel_support.py).
"""

from __future__ import annotations

import io
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from rotator.devkit.emulator import Emulator, Fault
from rotator.state.connection import current_primary
from rotator.worker.broker import _QoS
from tests.faults_support import (
    Workers,
    build_stack,
    celery_settings,
    explain,
    in_step,
    patch_counts,
    patched,
    secret_value,
    seed,
    wait_for,
)
from tests.helpers import Stack
from tests.procs import assert_cli_ok, run_cli, wait_until
from tests.sentinel_support import SentinelGroup

CONFIGS = 300
# What a worker and a beat may log at ERROR while the primary is gone, and nothing else.
FAILOVER_LINES = [
    r"consumer: Cannot connect to sentinel://",
    r"Connection to Redis lost: Retry",
    r"Failed operation _store_result\. Retrying",
    r"Couldn't ack '[0-9a-f-]+', reason:",
    r"beat\.redis_unavailable",
]
LATER = 30  # configs given a new Vault version after the failover


@pytest.fixture
def sentinel_stack(
    stack_env: dict[str, str],
    emu: Emulator,
    sentinel_group: SentinelGroup,
    log_stream: io.StringIO,
) -> Iterator[Stack]:
    s = build_stack({**stack_env, **sentinel_group.env()}, emu)
    try:
        yield s
    finally:
        s.rt.close()


def shipped_defaults(stack: Stack) -> dict[str, str]:
    """The worker settings of tests/procs.py without its short visibility timeout, lock TTL
    and retry budget: those are the shipped defaults here."""
    env = celery_settings(stack)
    for name in ("ROTATOR_VISIBILITY_TIMEOUT", "ROTATOR_LOCK_TTL", "ROTATOR_TASK_MAX_RETRIES"):
        env.pop(name, None)
    return env


@pytest.mark.timeout(180)
def test_primary_sigkilled_mid_run_worker_and_beat_follow_the_failover_and_all_converge(
    sentinel_stack: Stack, sentinel_group: SentinelGroup, workers: Workers
) -> None:
    """300 rotations through a worker and a beat on a Sentinel group; the primary is SIGKILLed
    a third of the way in. The sentinels promote the replica; the worker, the beat and this
    process's state client follow it; every config converges, neither process exits, nothing is
    dead-lettered, and new Vault versions written after the failover are pushed too."""
    stack, group = sentinel_stack, sentinel_group
    ids = [f"ac_s{n:03d}" for n in range(CONFIGS)]
    seed(stack, ids)
    stack.emu.inject(Fault(delay=0.05), times=None)
    before = current_primary(stack.rt.settings)
    # A message or retry written around the kill can be lost outright: replication is
    # asynchronous, so the promoted replica never saw it. The sweep queues it again once its
    # dedupe key expires, ROTATOR_QUEUE_TTL (270 s by default: the 5-minute bound, shown with the
    # defaults by tests/fleet/test_liveness.py); set here to its floor with the default 30 s
    # visibility timeout, so this test sees the re-queue.
    procs = workers.group({**shipped_defaults(stack), "ROTATOR_QUEUE_TTL": "30"})
    worker, beat = procs.worker("w1", 8), procs.beat("b1")
    wait_until("a third of the PATCHes", patched(stack.emu, CONFIGS // 3), 60)
    assert group.primary.pid is not None
    os.killpg(group.primary.pid, signal.SIGKILL)
    killed = time.monotonic()
    promoted = group.wait_failover()
    after = current_primary(stack.rt.settings)
    assert before != after and f":{group.replica.port if group.replica else 0} " in after + " "

    why = lambda: explain(stack, ids, procs)  # noqa: E731
    wait_for("every auth config equal to Vault", lambda: not in_step(stack.emu, ids), 90, why)
    recovered = time.monotonic() - killed

    later = ids[:LATER]
    for nanoid in later:
        stack.write(nanoid, {"credentials": {"client_secret": secret_value(nanoid, "v2")}})
    wait_for(
        "the versions written after the failover pushed",
        lambda: not in_step(stack.emu, later, "v2"),
        30,
        lambda: explain(stack, later, procs, "v2"),
    )
    counts = patch_counts(stack.emu)
    extra = sum(counts.values()) - CONFIGS - LATER
    print(
        f"sentinel failover: promoted {promoted:.1f}s after the kill, all {CONFIGS} in step "
        f"{recovered:.1f}s after it; {sum(counts.values())} PATCHes, {extra} duplicates"
    )
    assert worker.poll() is None, "the worker exited"
    assert beat.poll() is None, "beat exited"
    assert stack.rt.state.dead_letters() == []
    procs.assert_clean(allowed=FAILOVER_LINES)


def sweeps_sent(text: str) -> int:
    return text.count("Sending due task rotator-sweep")


@pytest.mark.timeout(90)
def test_beat_outlives_the_primary_sigkilled_and_keeps_sending_the_sweep(
    sentinel_stack: Stack, sentinel_group: SentinelGroup, workers: Workers
) -> None:
    """Beat alone on a Sentinel group: the primary is SIGKILLed; current_primary() names the
    promoted replica; beat logs the lost connection (it used to exit from RedBeat's lock
    extension), follows the replica and keeps sending the sweep every second."""
    procs = workers.group(shipped_defaults(sentinel_stack))
    beat = procs.beat("b1")
    before = current_primary(sentinel_stack.rt.settings)
    assert before == f"127.0.0.1:{sentinel_group.primary.port} (sentinel master rotmaster)"
    wait_until("beat sending sweeps", lambda: sweeps_sent(procs.output()) >= 2, 30)
    assert sentinel_group.primary.pid is not None
    os.killpg(sentinel_group.primary.pid, signal.SIGKILL)
    sentinel_group.wait_failover()
    assert sentinel_group.replica is not None
    assert current_primary(sentinel_stack.rt.settings).startswith(
        f"127.0.0.1:{sentinel_group.replica.port} "
    )
    after = sweeps_sent(procs.output())
    wait_until("sweeps sent after the failover", lambda: sweeps_sent(procs.output()) >= after + 3)
    assert beat.poll() is None, "beat exited"
    assert "beat.redis_unavailable" in procs.output()


@pytest.mark.timeout(90)
def test_check_and_health_name_the_current_primary_before_and_after_a_failover(
    sentinel_stack: Stack, sentinel_group: SentinelGroup
) -> None:
    """`check` and `health` name the primary the sentinels report, with the master's name, and
    the promoted replica once the primary is SIGKILLed."""
    env = sentinel_stack.env
    first = f"primary 127.0.0.1:{sentinel_group.primary.port} (sentinel master rotmaster)"
    res = run_cli(env, "health")
    assert_cli_ok(res)
    assert f"healthy (redis {first})" in res.stdout
    res = run_cli(env, "check")
    assert_cli_ok(res)
    assert re.search(rf"^ok +redis +{re.escape(first)}$", res.stdout, re.M), res.stdout
    assert sentinel_group.primary.pid is not None and sentinel_group.replica is not None
    os.killpg(sentinel_group.primary.pid, signal.SIGKILL)
    sentinel_group.wait_failover()
    res = run_cli(env, "health")
    assert_cli_ok(res)
    assert f"primary 127.0.0.1:{sentinel_group.replica.port} (sentinel" in res.stdout


class _DeadChannel:
    """What the QoS asks of its channel on ack: a Redis client, here a dead one."""

    do_restore = False  # nothing to restore when the QoS is collected

    @contextmanager
    def conn_or_acquire(self, client: object = None) -> Iterator[object]:
        raise redis.ConnectionError("the primary is gone")
        yield


@pytest.mark.parametrize("settle", ["ack", "reject"])
def test_an_ack_or_reject_lost_to_a_dead_connection_still_gives_its_prefetch_slot_back(
    settle: str,
) -> None:
    """kombu's Redis QoS kept the slot of an ack that failed; with every slot held so, the
    worker never read its BRPOP socket again and idled after a failover. The error still
    reaches the caller (Celery logs "Couldn't ack"); the slot is free again."""
    qos = _QoS(_DeadChannel(), prefetch_count=1)  # type: ignore[no-untyped-call]
    qos._quick_append("tag-1", object())
    assert not qos.can_consume()  # type: ignore[no-untyped-call]
    with pytest.raises(redis.ConnectionError):
        getattr(qos, settle)("tag-1")
    assert qos.can_consume()  # type: ignore[no-untyped-call]
