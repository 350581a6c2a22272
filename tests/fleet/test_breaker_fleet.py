"""The fleet circuit breaker against the real stack, with the SHIPPED DEFAULTS: a real worker
subprocess (16 threads, 3 in-call attempts, 20 s probe interval, threshold 5, 3,600 s visibility
timeout, rate limit ``auto``), OpenBao, Redis and the emulator.

The emulator announces a large organisation limit (100,000/min, so rotator's auto share is
about 830 requests/s): whatever holds the PATCHes back here is the breaker, not the limiter.
Each test prints its figures (PATCHes during the fault, seconds to converge after it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotator.devkit.emulator import Emulator, Fault
from tests.faults_support import SHRUNK, events, explain, in_step, recorded, seed, wait_for
from tests.helpers import COMPOSIO_KEY, Stack
from tests.procs import Procs, assert_cli_ok, run_cli, wait_until

_ALLOWED = [r'"event": "composio\.circuit_open"']


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """This module's emulator: one organisation with a limit that never binds here."""
    with Emulator(api_keys=[COMPOSIO_KEY], rate_limit=100_000) as emulator:
        yield emulator


@pytest.fixture
def fleet(stack: Stack, tmp_path: Path) -> Iterator[Procs]:
    env = {k: v for k, v in stack.env.items() if k not in SHRUNK}  # the shipped defaults
    procs = Procs({**env, "ROTATOR_LOG_FORMAT": "json"}, tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


def _queue_all(procs: Procs) -> None:
    """``rotator rotate --all`` (no --wait): every auth config queued through the broker."""
    assert_cli_ok(run_cli(procs.env, "rotate", "--all", timeout=120))


def _patches_between(stack: Stack, start: float, end: float) -> int:
    return sum(1 for e in stack.emu.patches() if start <= e.time < end)


def _first_patch(stack: Stack) -> float:
    wait_until("the first PATCH", lambda: bool(stack.emu.patches()), 60)
    return min(e.time for e in stack.emu.patches())


def _converge(stack: Stack, ids: list[str], procs: Procs, timeout: float) -> float:
    """Seconds until every auth config holds Vault's values and is recorded as applied."""
    start = time.time()
    why = lambda: explain(stack, ids, procs)  # noqa: E731
    wait_for("every auth config equal to Vault", lambda: not in_step(stack.emu, ids), timeout, why)
    wait_for("every success recorded", lambda: not recorded(stack, ids), 30, why)
    return time.time() - start


def _nothing_dead_lettered_or_quarantined(stack: Stack) -> None:
    assert stack.rt.state.dead_letters() == []
    assert stack.rt.state.redis.keys("rotator:failures:*") == []


def _one_open_one_close(procs: Procs, cause: str) -> None:
    out = procs.output()
    [opened] = events(out, "composio.circuit_open")
    [closed] = events(out, "composio.circuit_closed")
    assert opened["cause"] == cause and closed["probe_auth_config_id"]
    assert events(out, "rotation.waiting"), "no rotation was held back"
    assert not events(out, "rotation.failed")


def test_a_rejected_key_stops_the_fleet_and_it_recovers_by_itself(
    stack: Stack, fleet: Procs
) -> None:
    """Composio rejects rotator's key for 2,000 queued rotations: at most 50 PATCHes in 20 s
    (the in-flight ones, then one probe per interval), nothing dead-lettered or quarantined,
    and once the key works again every rotation converges with no operator action."""
    ids = [f"ac_key{i:04d}" for i in range(2000)]
    seed(stack, ids)
    stack.emu.set_api_keys(["ck_someone_elses_key"])
    _queue_all(fleet)
    fleet.worker("w1", concurrency=16)
    t0 = _first_patch(stack)
    time.sleep(max(0.0, t0 + 20 - time.time()))
    during = _patches_between(stack, t0, t0 + 20)
    print(f"\nrejected key: {during} PATCHes in 20 s for 2,000 queued")
    assert during <= 50, f"{during} PATCHes in the 20 s the key was rejected"
    assert all(e.status == 401 for e in stack.emu.patches())
    _nothing_dead_lettered_or_quarantined(stack)
    stack.emu.set_api_keys([COMPOSIO_KEY])
    # 2,000 rotations after the fault: bound by the worker's own throughput on a loaded 2-core
    # machine (about 10/s measured with other jobs running), not by the breaker.
    took = _converge(stack, ids, fleet, timeout=300)
    print(f"rejected key: converged {took:.1f} s after the key works again")
    _nothing_dead_lettered_or_quarantined(stack)
    _one_open_one_close(fleet, "key_rejected")
    fleet.assert_clean(allowed=_ALLOWED)


def test_a_total_outage_stops_the_fleet_and_it_recovers_by_itself(
    stack: Stack, fleet: Procs
) -> None:
    """503 to every request for 30 s with 300 queued: at most 150 PATCHes during it, nothing
    dead-lettered, all converge after it by themselves."""
    ids = [f"ac_out{i:03d}" for i in range(300)]
    seed(stack, ids)
    stack.emu.inject(Fault(status=503), times=None)
    _queue_all(fleet)
    fleet.worker("w1", concurrency=16)
    t0 = _first_patch(stack)
    time.sleep(max(0.0, t0 + 30 - time.time()))
    stack.emu.clear_faults()
    during = _patches_between(stack, t0, t0 + 30)
    print(f"\noutage: {during} PATCHes in 30 s for 300 queued")
    assert during <= 150, f"{during} PATCHes in the 30 s outage"
    _nothing_dead_lettered_or_quarantined(stack)
    took = _converge(stack, ids, fleet, timeout=100)
    print(f"outage: converged {took:.1f} s after it")
    _nothing_dead_lettered_or_quarantined(stack)
    _one_open_one_close(fleet, "outage")
    fleet.assert_clean(allowed=_ALLOWED)
