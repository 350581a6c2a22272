"""Shared fixtures: real Redis and OpenBao servers on loopback ports, started once per session.

A server that cannot start fails the tests that need it (with SandboxError's message and its
fix); nothing here skips.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import redis

from rotator.devkit.sandbox import OpenBaoServer, RedisServer, SandboxError

pytest_plugins = [
    "tests.helpers",
    "tests.procs",
    "tests.faults_support",
    "tests.sentinel_support",
    "tests.silent_support",
]

Server = TypeVar("Server", RedisServer, OpenBaoServer)


def _start_or_fail(make: Callable[[], Server]) -> Server:
    """Start a server, or fail the test with SandboxError's message (which says how to fix it)."""
    try:
        return make().start()
    except SandboxError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


# -- real servers ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole run."""
    server = _start_or_fail(RedisServer)
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session Redis, emptied (FLUSHALL) before this test."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def bao() -> Iterator[OpenBaoServer]:
    """One OpenBao dev server for the whole run (KV v2 at ``secret/``, random root token)."""
    server = _start_or_fail(OpenBaoServer)
    yield server
    server.close()


@pytest.fixture
def vault_env(bao: OpenBaoServer) -> dict[str, str]:
    """Settings env for the session OpenBao, root token, and a prefix no other test uses."""
    return {
        "VAULT_ADDR": bao.addr,
        "VAULT_TOKEN": bao.root_token.reveal(),
        "ROTATOR_VAULT_AUTH": "token",
        "ROTATOR_VAULT_MOUNT": "secret",
        "ROTATOR_VAULT_PREFIX": f"composio/auth_configs/t{uuid.uuid4().hex[:8]}",
        # Shrunk (default 10 s): a loopback OpenBao answers in milliseconds; only an
        # unreachable or sealed Vault waits this long, and those tests expect the error.
        "ROTATOR_VAULT_TIMEOUT": "5",
        "COMPOSIO_API_KEY": "ck_test_placeholder",
    }
