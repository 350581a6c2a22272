"""Beat failover when the RedBeat lock is 3 x ROTATOR_SWEEP_INTERVAL, above its 10 s floor.

tests/integration/test_sweep.py runs the beats with a 1 s interval, where the lock lives its
10 s floor; here the interval is 6 s, so the lock must live 18 s, and the standby
must wait that out.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from tests.faults_support import Workers
from tests.helpers import Stack
from tests.procs import CELERY_ENV, wait_until

INTERVAL = 6  # 3 x 6 = 18 s: above the 10 s floor
LOCK_TIMEOUT = 3 * INTERVAL
LOOP = 5  # beat_max_loop_interval: the dead beat's last refresh, and the standby's lock polls
LOCK_KEY = "rotator:redbeat:lock"  # redbeat_key_prefix + ":lock"


def _acquired(log: Path) -> bool:
    return "beat: Acquired lock" in log.read_text(errors="replace")


def _sweeps_sent(log: Path) -> int:
    return log.read_text(errors="replace").count("Sending due task rotator-sweep")


@pytest.mark.timeout(90)
def test_the_standby_beat_takes_over_once_a_3x_interval_lock_expires(
    stack: Stack, workers: Workers
) -> None:
    """Two beats with a 6 s sweep interval: the active one holds a lock living 18 s (more than
    the 10 s floor: seen in Redis while it runs); SIGKILLed, its lock still has over 10 s to
    live, the standby waits it out (not the floor), then acquires it within one lock poll of
    its expiry and sends sweeps."""
    env = {**stack.env, **CELERY_ENV, "ROTATOR_SWEEP_INTERVAL": str(INTERVAL)}
    procs = workers.group(env)
    beats = [procs.beat("b1"), procs.beat("b2")]
    logs = list(procs.logs)
    wait_until("one beat holds the lock", lambda: any(_acquired(log) for log in logs), 30)
    active = 0 if _acquired(logs[0]) else 1
    standby = 1 - active
    wait_until("the active beat sent a sweep", lambda: _sweeps_sent(logs[active]) > 0, 30)
    assert not _acquired(logs[standby]) and _sweeps_sent(logs[standby]) == 0
    with redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"]) as r:
        seen = []
        for _ in range(5):
            seen.append(int(r.pttl(LOCK_KEY)))
            time.sleep(0.2)
        procs.kill(beats[active])
        killed_at = time.monotonic()
        left_ms = int(r.pttl(LOCK_KEY))
    print(f"lock TTLs while active {seen} ms; {left_ms} ms left at the kill")
    assert all(10_000 < ttl <= LOCK_TIMEOUT * 1000 for ttl in seen), seen
    assert left_ms > 10_000, f"the lock had {left_ms} ms left: the 10 s floor, not 3 x interval"
    wait_until("the standby acquired the lock", lambda: _acquired(logs[standby]), 40)
    took = time.monotonic() - killed_at
    print(f"standby acquired the lock {took:.1f}s after the kill")
    assert took >= left_ms / 1000 - 0.5, "the standby took a lock that had not expired"
    assert took <= left_ms / 1000 + LOOP + 1.5
    wait_until("the standby sends sweeps", lambda: _sweeps_sent(logs[standby]) > 0, 15)
    procs.assert_clean()
