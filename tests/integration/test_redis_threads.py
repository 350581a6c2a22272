"""Per-thread Redis connections for the hot path's scripts (``rotator.state.threads``): one
connection per thread; after a Sentinel failover or a Redis restart the next call reaches the
(new) primary; a timeout is not waited out twice."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from rotator.devkit.sandbox import RedisServer
from rotator.state import connection as redis_conn
from rotator.state.threads import ThreadClients
from tests.sentinel_support import MASTER, SentinelGroup

INCR = "return redis.call('INCR', KEYS[1])"


def _incr(clients: ThreadClients, script: redis.commands.core.Script) -> int:
    return int(clients.call(lambda mine: script(keys=["n"], args=[], client=mine)))


def test_each_thread_keeps_one_connection_of_its_own(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    clients = ThreadClients(client)
    script = client.register_script(INCR)
    seen: dict[str, set[int]] = {}
    together = threading.Barrier(4)  # all four alive at once: no thread's connection reused

    def work(name: str) -> None:
        for _ in range(20):
            _incr(clients, script)
            seen.setdefault(name, set()).add(id(clients.get().connection))
        together.wait(timeout=30)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(ids) == 1 for ids in seen.values()) and len(set().union(*seen.values())) == 4
    assert int(client.get("n") or 0) == 80
    client.close()


@pytest.mark.timeout(120)
def test_after_a_sentinel_failover_the_next_call_reaches_the_new_primary(
    sentinel_group: SentinelGroup,
) -> None:
    """A held connection would reconnect to the dead primary's address forever (redis-py looks
    the primary up only when the pool hands a connection out): the call drops it and tries once
    more from the pool. A call may still fail while some sentinel names the old primary; the
    calls that follow must reach the new one (without the drop, every call fails for good)."""
    group = sentinel_group
    client = redis_conn.client(redis_conn.RedisSpec(group.url, MASTER, None))
    clients = ThreadClients(client)
    script = client.register_script(INCR)
    assert _incr(clients, script) == 1
    assert group.primary.pid is not None
    os.killpg(group.primary.pid, signal.SIGKILL)
    group.wait_failover(60)
    for _ in range(40):  # a rotation's retries, compressed: the sentinels may lag a little
        try:
            value = _incr(clients, script)
            break
        except redis.ConnectionError:
            time.sleep(0.25)
    else:
        pytest.fail("every call for 10 s after the failover failed: it kept the dead primary")
    assert value >= 2
    assert group.replica is not None
    assert int(redis.Redis(port=group.replica.port).get("n") or 0) == value
    client.close()


def test_after_a_redis_restart_the_next_call_reconnects_without_failing() -> None:
    """With the shipped connection settings (``redis_conn.SOCKETS``), as the state store's."""
    server = RedisServer().start()
    try:
        client = redis_conn.client(redis_conn.RedisSpec(server.url, None, None))
        clients = ThreadClients(client)
        script = client.register_script(INCR)
        assert _incr(clients, script) == 1
        server.restart()
        assert _incr(clients, script) == 1  # a new, empty server: the script loaded again
        client.close()
    finally:
        server.close()


def test_a_timeout_drops_the_connection_and_is_not_retried(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=0.2)
    clients = ThreadClients(client)
    calls = 0

    def slow(mine: redis.Redis) -> object:
        nonlocal calls
        calls += 1
        return mine.blpop(["nothing-here"], timeout=1)  # answers after 1 s: past the 0.2 s

    held = clients.get()
    with pytest.raises(redis.TimeoutError):
        clients.call(slow)
    assert calls == 1 and clients.get() is not held
    client.close()


def test_without_again_a_connection_error_drops_the_client_and_raises_at_once() -> None:
    """The rate limiter's clients fail open at once: no second attempt after a restart."""
    server = RedisServer().start()
    try:
        client = redis.Redis.from_url(server.url, retry=Retry(NoBackoff(), 0))
        clients = ThreadClients(client, again=False)
        script = client.register_script(INCR)
        assert _incr(clients, script) == 1
        held = clients.get()
        server.restart()
        with pytest.raises(redis.ConnectionError):
            _incr(clients, script)
        assert clients.get() is not held and _incr(clients, script) == 1
        client.close()
    finally:
        server.close()
