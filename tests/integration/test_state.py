"""The Redis state store against a real Redis: locks, damaged state, translated errors."""

from __future__ import annotations

import pytest
import redis

from rotator.core.errors import LockBusy, StateUnavailable
from rotator.state.store import Keys, StateStore


@pytest.fixture
def store(redis_url: str) -> StateStore:
    return StateStore.from_url(redis_url)


def test_lock_is_exclusive_and_renew_restores_the_full_ttl(store: StateStore) -> None:
    """A second holder is refused; renew() puts the TTL back to its full length."""
    held = store.lock("ac_l", ttl=10)
    with pytest.raises(LockBusy):
        store.lock("ac_l", ttl=10)
    store.redis.pexpire(Keys.lock("ac_l"), 500)
    held.renew()
    assert store.redis.pttl(Keys.lock("ac_l")) > 9000
    held.release()
    assert store.redis.exists(Keys.lock("ac_l")) == 0


def test_a_lost_lock_is_reported_on_renew_and_release_is_silent(store: StateStore) -> None:
    """If the lock expired and someone else took it, renew() raises LockBusy and release()
    leaves the other holder's lock alone."""
    held = store.lock("ac_m", ttl=10)
    store.redis.set(Keys.lock("ac_m"), "someone-else")
    with pytest.raises(LockBusy, match="expired before the PATCH"):
        held.renew()
    held.release()
    assert store.redis.get(Keys.lock("ac_m")) == "someone-else"


def test_damaged_applied_state_reads_as_never_applied(store: StateStore) -> None:
    """A half-written or garbled applied hash means "push again", never a crash."""
    store.redis.hset(Keys.applied("ac_d"), mapping={"version": "x", "fingerprint": "f"})
    assert store.get_applied("ac_d") is None


def test_redis_errors_become_state_unavailable() -> None:
    """A Redis that does not answer is a transient StateUnavailable naming Redis."""
    dead = StateStore(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5))
    with pytest.raises(StateUnavailable, match="Redis state store"):
        dead.get_applied("ac_x")
    dead.close()


def test_renew_skips_a_lock_younger_than_asked_and_renews_an_older_one(store: StateStore) -> None:
    """``renew(if_older_than=...)`` sends nothing for a lock taken just now; ``renew()`` resets
    the TTL."""
    held = store.lock("ac_y", ttl=10)
    store.redis.pexpire(Keys.lock("ac_y"), 4000)
    held.renew(if_older_than=5)
    assert store.redis.pttl(Keys.lock("ac_y")) <= 4000
    held.renew()
    assert store.redis.pttl(Keys.lock("ac_y")) > 9000
    held.release()
