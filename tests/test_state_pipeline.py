"""The rotation's Redis state in two round trips, against a real Redis: ``begin`` (pause
switches, lock, applied state) and ``record_success`` with the lock's release."""

from __future__ import annotations

import pytest

from rotator.circuit import Cause, Circuit, encode
from rotator.errors import LockBusy
from rotator.models import AppliedState
from rotator.state import Keys, StateStore
from rotator.states import CircuitState


@pytest.fixture
def store(redis_url: str) -> StateStore:
    return StateStore.from_url(redis_url)


def _applied(version: int) -> AppliedState:
    return AppliedState(
        version=version, fingerprint="f" * 16, applied_at=1.0, request_id="r", vault_path="p"
    )


def _commands(store: StateStore) -> int:
    """Commands the Redis server has processed so far (this INFO included)."""
    return int(store.redis.info("stats")["total_commands_processed"])


def test_begin_takes_the_lock_and_reads_pause_and_applied_state(store: StateStore) -> None:
    """One begin: the lock with the full TTL, not paused, the applied state read under it; a
    second begin while it is held gets no lock (LockBusy from held()) and no applied state."""
    store.record_success("ac_b1", _applied(3), audit={"outcome": "succeeded"})
    first = store.begin("ac_b1", ttl=30)
    assert not first.paused and first.lock is not None
    assert first.applied is not None and first.applied.version == 3
    assert store.redis.pttl(Keys.lock("ac_b1")) > 29000
    second = store.begin("ac_b1", ttl=30)
    assert second.lock is None and second.applied is None
    with pytest.raises(LockBusy, match="another rotation holds the lock"):
        second.held()
    first.held().release()
    assert store.redis.exists(Keys.lock("ac_b1")) == 0


def test_begin_sees_both_pause_switches(store: StateStore) -> None:
    """Paused one by one or everything paused: begin says paused either way."""
    store.pause("ac_b2")
    assert store.begin("ac_b2", ttl=5).paused
    assert not store.begin("ac_b3", ttl=5).paused
    store.pause()
    try:
        assert store.begin("ac_b4", ttl=5).paused
    finally:
        store.resume()
        store.resume("ac_b2")


def test_record_success_releases_the_lock_in_the_same_round_trip(store: StateStore) -> None:
    """Recording with ``release`` deletes the lock (ours) with the record and the audit entry:
    the Redis server processes one MULTI/EXEC batch and no separate release afterwards."""
    lock = store.begin("ac_b5", ttl=30).held()
    before = _commands(store)
    store.record_success("ac_b5", _applied(4), audit={"outcome": "succeeded"}, release=lock)
    lock.release()  # already released: sends nothing
    after = _commands(store)
    assert store.redis.exists(Keys.lock("ac_b5")) == 0 and lock.released
    got = store.get_applied("ac_b5")
    assert got is not None and got.version == 4
    # INFO once; the batch's MULTI, DEL, HSET, DEL, XADD, EVAL, EXEC; the script's GET and DEL.
    assert after - before == 1 + 7 + 2


def test_record_success_leaves_a_lock_someone_else_took(store: StateStore) -> None:
    """If our lock expired and another rotation took it, the release in the batch spares it."""
    lock = store.begin("ac_b6", ttl=30).held()
    store.redis.set(Keys.lock("ac_b6"), "someone-else")
    store.record_success("ac_b6", _applied(5), audit={"outcome": "succeeded"}, release=lock)
    assert store.redis.get(Keys.lock("ac_b6")) == "someone-else"


def test_begin_reads_the_fleet_breaker_in_the_same_round_trip(store: StateStore) -> None:
    """The breaker comes with begin's pipeline: an open breaker reads as open, a missing or
    garbled value as closed (fail open), with no GET of its own afterwards."""
    assert not store.begin("ac_b7", ttl=5).circuit.open
    opened = Circuit(CircuitState.OPEN, Cause.KEY_REJECTED, 1.0, ("ac_x",))
    store.redis.set(Keys.circuit, encode(opened))
    before = _commands(store)
    begun = store.begin("ac_b8", ttl=5)
    # INFO once; EXISTS, SISMEMBER, SET, HGETALL and the breaker's GET in one pipeline
    assert _commands(store) - before == 1 + 5
    assert begun.circuit == opened
    store.redis.set(Keys.circuit, "{not json")
    assert not store.begin("ac_b9", ttl=5).circuit.open
