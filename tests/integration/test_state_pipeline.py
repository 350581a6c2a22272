"""The rotation's Redis state in two round trips, against a real Redis: ``begin`` (pause
switches, lock, applied state, breaker) and ``record_success`` with the lock's release, each
one EVALSHA of a Lua script (``rotator.state.scripts``), as MONITOR shows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from rotator.core.circuit import Cause, Circuit, encode
from rotator.core.errors import LockBusy
from rotator.core.models import AppliedState, Brief, StoredState
from rotator.core.states import CircuitState
from rotator.state.scripts import STORED_CHUNK
from rotator.state.store import Begun, Keys, StateStore


@pytest.fixture
def store(redis_url: str) -> StateStore:
    return StateStore.from_url(redis_url)


def _applied(version: int) -> AppliedState:
    return AppliedState(
        version=version, fingerprint="f" * 16, applied_at=1.0, request_id="r", vault_path="p"
    )


def _sent(url: str, store: StateStore, action: Callable[[], object]) -> list[str]:
    """The commands ``action`` sent to the server (those its scripts ran left out), as a
    MONITOR connection sees them between two markers."""
    watcher = redis.Redis.from_url(url, decode_responses=True)
    with watcher.monitor() as monitor:  # type: ignore[no-untyped-call]
        store.redis.echo("rotator-test-start")
        action()
        store.redis.echo("rotator-test-end")
        sent: list[str] = []
        started = False
        for event in monitor.listen():
            command = str(event["command"])
            if command == "ECHO rotator-test-start":
                started = True
            elif command == "ECHO rotator-test-end":
                break
            elif started and event.get("client_type") != "lua":
                sent.append(command.split(" ", 1)[0].upper())
    watcher.close()
    return sent


def _last_audit(store: StateStore) -> dict[str, str]:
    return store.audit_newest(count=1)[0][1]


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


def test_record_success_releases_the_lock_in_the_same_round_trip(
    store: StateStore, redis_url: str
) -> None:
    """Recording with ``release`` deletes the lock (ours) with the record and the audit entry:
    one EVALSHA, and no separate release afterwards."""
    store.record_success("ac_b0", _applied(1), audit={"outcome": "succeeded"})  # script loaded
    lock = store.begin("ac_b5", ttl=30).held()

    def record() -> None:
        store.record_success("ac_b5", _applied(4), audit={"outcome": "succeeded"}, release=lock)
        lock.release()  # already released: sends nothing

    assert _sent(redis_url, store, record) == ["EVALSHA"]
    assert store.redis.exists(Keys.lock("ac_b5")) == 0 and lock.released
    got = store.get_applied("ac_b5")
    assert got is not None and got.version == 4
    assert _last_audit(store) == {"outcome": "succeeded"}


def test_record_success_replaces_the_applied_state_and_drops_errors_and_the_dedupe_key(
    store: StateStore,
) -> None:
    """A field of an older record does not survive; the last error, the failure count and the
    sweep's dedupe key are gone; without ``release`` the lock is left alone."""
    store.redis.hset(Keys.applied("ac_c1"), mapping={"version": "1", "stale_field": "x"})
    store.redis.hset(Keys.last_error("ac_c1"), mapping={"kind": "permanent", "message": "m"})
    store.redis.set(Keys.failures("ac_c1"), "2")
    store.redis.set(Keys.queued("ac_c1"), "1")
    store.redis.set(Keys.lock("ac_c1"), "held-by-someone")
    store.record_success("ac_c1", _applied(7), audit={"outcome": "succeeded", "n": 7})
    assert store.redis.hgetall(Keys.applied("ac_c1")) == {
        "version": "7",
        "fingerprint": "f" * 16,
        "applied_at": "1.0",
        "request_id": "r",
        "vault_path": "p",
    }
    for gone in (Keys.last_error, Keys.failures, Keys.queued):
        assert store.redis.exists(gone("ac_c1")) == 0
    assert store.redis.get(Keys.lock("ac_c1")) == "held-by-someone"
    assert _last_audit(store) == {"outcome": "succeeded", "n": "7"}


def test_the_scripts_are_loaded_again_on_a_server_that_forgot_them(store: StateStore) -> None:
    """A new master after a failover knows no script: begin and record still work."""
    store.begin("ac_c2", ttl=5)
    store.redis.script_flush()
    begun = store.begin("ac_c3", ttl=5)
    assert begun.lock is not None
    store.redis.script_flush()
    store.record_success("ac_c3", _applied(2), audit={"outcome": "succeeded"}, release=begun.lock)
    assert store.redis.exists(Keys.lock("ac_c3")) == 0


def test_record_success_leaves_a_lock_someone_else_took(store: StateStore) -> None:
    """If our lock expired and another rotation took it, the release in the batch spares it."""
    lock = store.begin("ac_b6", ttl=30).held()
    store.redis.set(Keys.lock("ac_b6"), "someone-else")
    store.record_success("ac_b6", _applied(5), audit={"outcome": "succeeded"}, release=lock)
    assert store.redis.get(Keys.lock("ac_b6")) == "someone-else"


def test_begin_reads_the_fleet_breaker_in_the_same_round_trip(
    store: StateStore, redis_url: str
) -> None:
    """The breaker comes with begin's round trip: an open breaker reads as open, a missing or
    garbled value as closed (fail open), with no GET of its own afterwards."""
    assert not store.begin("ac_b7", ttl=5).circuit.open
    opened = Circuit(CircuitState.OPEN, Cause.KEY_REJECTED, 1.0, ("ac_x",))
    store.redis.set(Keys.circuit, encode(opened))
    got: list[object] = []
    assert _sent(redis_url, store, lambda: got.append(store.begin("ac_b8", ttl=5))) == ["EVALSHA"]
    assert isinstance(got[0], Begun) and got[0].circuit == opened
    store.redis.set(Keys.circuit, "{not json")
    assert not store.begin("ac_b9", ttl=5).circuit.open


def test_stored_reads_every_config_in_one_script_call_per_chunk(
    store: StateStore, redis_url: str
) -> None:
    """Applied state, last error and failure count of each auth config, mapped to the right
    one across a chunk boundary; a config with nothing stored reads as empty; a damaged
    applied hash reads as never applied. One EVALSHA per STORED_CHUNK configs."""
    ids = [f"ac_st{n:05d}" for n in range(STORED_CHUNK + 5)]
    store.record_success(ids[0], _applied(3), audit={"outcome": "succeeded"})
    last = ids[-1]
    store.redis.hset(Keys.last_error(last), mapping={"kind": "permanent", "message": "m"})
    store.redis.set(Keys.failures(last), "2")
    store.redis.hset(Keys.applied(ids[1]), mapping={"version": "not a number"})
    store.stored(ids[:1])  # the script loaded
    got: dict[str, StoredState] = {}
    assert _sent(redis_url, store, lambda: got.update(store.stored(ids))) == ["EVALSHA"] * 2
    assert list(got) == ids
    first = got[ids[0]].applied
    assert first is not None and first.version == 3 and got[ids[0]].failures == 0
    assert got[ids[1]].applied is None  # damaged: a harmless re-push
    tail = got[last]
    assert tail.applied is None and tail.failures == 2
    assert tail.last_error is not None and tail.last_error.message == "m"
    assert all(got[n] == StoredState(None, None, 0) for n in ids[2:-1])
    assert store.stored([]) == {}


def test_a_damaged_lock_key_does_not_stop_the_record_or_its_audit_entry(
    store: StateStore,
) -> None:
    """A script stops at its first error (no MULTI/EXEC carrying on): the record and the audit
    entry come before the lock, whose read cannot fail the script, so a lock key of another
    type is left to its TTL and nothing else is lost."""
    lock = store.begin("ac_d1", ttl=30).held()
    store.redis.delete(Keys.lock("ac_d1"))
    store.redis.hset(Keys.lock("ac_d1"), mapping={"not": "a lock"})
    store.record_success("ac_d1", _applied(9), audit={"outcome": "succeeded"}, release=lock)
    got = store.get_applied("ac_d1")
    assert got is not None and got.version == 9
    assert _last_audit(store) == {"outcome": "succeeded"}
    assert store.redis.hgetall(Keys.lock("ac_d1")) == {"not": "a lock"}


def test_briefs_read_every_config_in_one_script_call_per_chunk(
    store: StateStore, redis_url: str
) -> None:
    """What the sweep reads (applied version and time, failures, the last error's Vault
    version) is mapped to the right config across a chunk boundary; nothing stored reads as
    never applied. One EVALSHA per STORED_CHUNK configs, not three commands per config."""
    ids = [f"ac_br{n:05d}" for n in range(STORED_CHUNK + 3)]
    store.record_success(ids[0], _applied(4), audit={"outcome": "succeeded"})
    last = ids[-1]
    store.redis.set(Keys.failures(last), "3")
    store.redis.hset(Keys.last_error(last), mapping={"kind": "permanent", "vault_version": "7"})
    store.briefs(ids[:1])  # the script loaded
    got: dict[str, Brief] = {}
    assert _sent(redis_url, store, lambda: got.update(store.briefs(ids))) == ["EVALSHA"] * 2
    assert list(got) == ids
    assert got[ids[0]] == Brief(applied_version=4, applied_at=1.0, failures=0, error_version=None)
    assert got[last] == Brief(applied_version=None, applied_at=None, failures=3, error_version=7)
    assert all(got[n] == Brief(None, None, 0, None) for n in ids[1:-1])
    assert store.briefs([]) == {}


def test_claims_take_each_free_dedupe_key_once_and_renewals_never_recreate_one(
    store: StateStore, redis_url: str
) -> None:
    """A claim takes the keys nobody holds (SET NX, with the TTL) and reports which; a renewal
    extends the keys that still exist and leaves a released one gone. One EVALSHA per chunk."""
    ids = [f"ac_cl{n:05d}" for n in range(STORED_CHUNK + 2)]
    assert store.claim_queue(ids[1], ttl=5.0)
    claimed: list[str] = []
    sent = _sent(redis_url, store, lambda: claimed.extend(store.claim_queues(ids, ttl=60.0)))
    assert sent == ["EVALSHA"] * 2
    assert claimed == [n for n in ids if n != ids[1]]
    assert 0 < store.redis.pttl(Keys.queued(ids[0])) <= 60_000
    assert store.redis.pttl(Keys.queued(ids[1])) <= 5_000  # the earlier claim's TTL stands
    assert store.claim_queues(ids, ttl=60.0) == []
    store.release_queue(ids[2])
    store.renew_queued(ids, ttl=600.0)
    assert store.redis.pttl(Keys.queued(ids[0])) > 60_000
    assert store.redis.pttl(Keys.queued(ids[-1])) > 60_000
    assert not store.redis.exists(Keys.queued(ids[2]))  # released: not brought back
    assert store.claim_queues([], ttl=1.0) == []
