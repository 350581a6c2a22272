"""A real Redis Sentinel group on loopback: one primary, one replica, three sentinels.

Each node is a ``redis-server`` of its own (free port, temporary directory, own process group),
managed by ``rotator.devkit.sandbox``'s server machinery; the sentinels run
``redis-server sentinel.conf --sentinel`` with a configuration written into their directory.

The group's own timings are short, so that a failover takes a couple of seconds instead of the
30 s Redis ships with: ``down-after-milliseconds`` 1000 and ``failover-timeout`` 5000. They are
the test cluster's settings, not rotator's (rotator has none of its own for Sentinel).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from rotator.devkit.sandbox import RedisServer, SandboxError

MASTER = "rotmaster"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


class ReplicaServer(RedisServer):
    """A ``redis-server`` replicating ``primary_port`` (read-only, as Redis ships it)."""

    name = "redis-replica"

    def __init__(self, primary_port: int) -> None:
        super().__init__()
        self.primary_port = primary_port

    def _argv(self, port: int, workdir: Path) -> list[str]:
        return [*super()._argv(port, workdir), "--replicaof", "127.0.0.1", str(self.primary_port)]


class SentinelServer(RedisServer):
    """One sentinel watching ``MASTER`` at ``primary_port``, quorum 2 of 3."""

    name = "redis-sentinel"

    def __init__(self, primary_port: int) -> None:
        super().__init__()
        self.primary_port = primary_port

    def _argv(self, port: int, workdir: Path) -> list[str]:
        conf = workdir / "sentinel.conf"  # the sentinel rewrites it: a file of its own
        conf.write_text(
            "\n".join(
                [
                    f"port {port}",
                    "bind 127.0.0.1",
                    "daemonize no",
                    f"dir {workdir}",
                    f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2",
                    f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {MASTER} 1",
                    "",
                ]
            )
        )
        return [self.binary, str(conf), "--sentinel"]


class SentinelGroup:
    """The five processes, started in order and checked: replica in sync, sentinels agreed."""

    def __init__(self) -> None:
        self.primary = RedisServer()
        self.replica: ReplicaServer | None = None
        self.sentinels: list[SentinelServer] = []

    @property
    def url(self) -> str:
        """``ROTATOR_REDIS_URL`` in Celery's convention: the sentinels, ``;``-separated."""
        return ";".join(f"sentinel://127.0.0.1:{s.port}" for s in self.sentinels) + "/0"

    def env(self) -> dict[str, str]:
        return {"ROTATOR_REDIS_URL": self.url, "ROTATOR_REDIS_SENTINEL_MASTER": MASTER}

    def start(self) -> SentinelGroup:
        self.primary.start()
        self.replica = ReplicaServer(self.primary.port).start()
        self._wait("the replica in sync", self._replica_synced, 20)
        self.sentinels = [SentinelServer(self.primary.port).start() for _ in range(3)]
        self._wait("every sentinel to see the replica and two peers", self._sentinels_agree, 20)
        return self

    def primary_port(self) -> int:
        """The primary's port as the first sentinel that answers reports it."""
        for node in self.sentinels:
            with redis.Redis(port=node.port, socket_timeout=1) as s:
                try:
                    addr = s.sentinel_get_master_addr_by_name(MASTER)
                except redis.RedisError:
                    continue
                if addr:
                    return int(addr[1])
        raise SandboxError("no sentinel reports a primary")

    def wait_failover(self, timeout: float = 30) -> float:
        """Seconds until the sentinels name the replica primary and it accepts writes."""
        assert self.replica is not None
        start = time.monotonic()
        replica = self.replica

        def promoted() -> bool:
            try:
                if self.primary_port() != replica.port:
                    return False
                with redis.Redis(port=replica.port, socket_timeout=1) as r:
                    return bool(r.info("replication")["role"] == "master")
            except (redis.RedisError, SandboxError):
                return False

        self._wait("the replica promoted", promoted, timeout)
        return time.monotonic() - start

    def close(self) -> None:
        for server in [*self.sentinels, self.replica, self.primary]:
            if server is not None:
                server.close()

    def _replica_synced(self) -> bool:
        assert self.replica is not None
        with redis.Redis(port=self.replica.port, socket_timeout=1) as r:
            info = r.info("replication")
        return bool(info.get("master_link_status") == "up")

    def _sentinels_agree(self) -> bool:
        for node in self.sentinels:
            with redis.Redis(port=node.port, socket_timeout=1) as s:
                state = s.sentinel_master(MASTER)
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return True

    @staticmethod
    def _wait(what: str, ok: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ok():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise SandboxError(f"Sentinel group: timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def sentinel_group() -> Iterator[SentinelGroup]:
    """A Sentinel group of this test's own; a node that cannot start fails the test."""
    group = SentinelGroup()
    try:
        group.start()
    except SandboxError as exc:
        group.close()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield group
    finally:
        group.close()
