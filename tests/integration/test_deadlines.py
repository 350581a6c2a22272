"""`health` and `check` have an overall deadline, against servers that accept connections and
never answer (tests.silent_support): `health` answers within the container health check's 10 s
(its default deadline is 8 s), `check` within its documented bound, and each names what did not
answer. The shipped defaults throughout (no shortened Redis or Vault timeouts)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.helpers import Stack
from tests.procs import assert_cli_ok, run_cli
from tests.silent_support import SilentServer

HEALTHCHECK_TIMEOUT = 10.0  # the Dockerfile's and the Kubernetes probes' timeout
CHECK_BOUND = 30.0  # `check --timeout`'s default: the documented bound


@pytest.fixture
def silent_group() -> Iterator[list[SilentServer]]:
    """Three sentinels that accept connections and never answer."""
    servers = [SilentServer() for _ in range(3)]
    yield servers
    for server in servers:
        server.close()


def _shipped(env: dict[str, str]) -> dict[str, str]:
    """The stack's env with the shipped Vault timeout (the stack shortens it to 5 s)."""
    return {k: v for k, v in env.items() if k != "ROTATOR_VAULT_TIMEOUT"}


def _timed(env: dict[str, str], *args: str) -> tuple[float, str, int]:
    started = time.monotonic()
    res = run_cli(env, *args, timeout=120)
    elapsed = time.monotonic() - started
    assert_cli_ok(res, res.returncode)  # whatever the code: no traceback, no ERROR line
    return elapsed, res.stdout + res.stderr, res.returncode


def test_health_answers_in_time_when_redis_never_answers(
    stack: Stack, silent_server: SilentServer
) -> None:
    """A Redis that accepts and never answers: `health` says unhealthy, naming Redis and its
    deadline, before the container health check's 10 s (it took 21 to 41 s)."""
    env = {**_shipped(stack.env), "ROTATOR_REDIS_URL": f"redis://{silent_server.addr}/0"}
    elapsed, out, code = _timed(env, "health")
    assert code == 1 and elapsed < HEALTHCHECK_TIMEOUT, (elapsed, out)
    assert "unhealthy" in out and "redis" in out and "did not answer within 8" in out


def test_health_answers_in_time_when_no_sentinel_answers(
    stack: Stack, silent_group: list[SilentServer]
) -> None:
    """Three sentinels that never answer: `health` is unhealthy within 10 s."""
    url = ";".join(f"sentinel://{s.addr}/0" for s in silent_group)
    env = {**_shipped(stack.env), "ROTATOR_REDIS_URL": url, "ROTATOR_REDIS_SENTINEL_MASTER": "m"}
    elapsed, out, code = _timed(env, "health")
    assert code == 1 and elapsed < HEALTHCHECK_TIMEOUT, (elapsed, out)
    assert "unhealthy" in out and "did not answer within 8" in out


def test_health_answers_in_time_when_vault_never_answers(
    stack: Stack, silent_server: SilentServer
) -> None:
    """A Vault that accepts and never answers (ROTATOR_VAULT_TIMEOUT's default 10 s would
    outlast the probe): unhealthy within 10 s, naming Vault."""
    env = {**_shipped(stack.env), "VAULT_ADDR": f"http://{silent_server.addr}"}
    elapsed, out, code = _timed(env, "health")
    assert code == 1 and elapsed < HEALTHCHECK_TIMEOUT, (elapsed, out)
    assert "unhealthy" in out and "vault" in out.lower() and "did not answer within 8" in out


def test_health_deadline_is_an_option(stack: Stack, silent_server: SilentServer) -> None:
    """`health --timeout 2` gives up after about 2 s."""
    env = {**_shipped(stack.env), "ROTATOR_REDIS_URL": f"redis://{silent_server.addr}/0"}
    elapsed, out, code = _timed(env, "health", "--timeout", "2")
    assert code == 1 and 2.0 <= elapsed < 6.0, (elapsed, out)
    assert "did not answer within 2" in out


def test_check_reports_a_silent_redis_and_still_checks_the_rest(
    stack: Stack, silent_server: SilentServer
) -> None:
    """A Redis that never answers: `check` fails the Redis lines with "did not answer within",
    still checks Vault, Composio and the bindings, and ends within its bound (65 to 125 s)."""
    env = {**_shipped(stack.env), "ROTATOR_REDIS_URL": f"redis://{silent_server.addr}/0"}
    elapsed, out, code = _timed(env, "check")
    assert code == 1 and elapsed < CHECK_BOUND, (elapsed, out)
    lines = out.splitlines()
    assert any(ln.startswith("FAIL  redis") and "did not answer within" in ln for ln in lines)
    for name in ("vault", "composio", "bindings"):
        assert any(ln.startswith(f"ok    {name}") for ln in lines), out


def test_check_ends_within_its_bound_when_no_sentinel_answers(
    stack: Stack, silent_group: list[SilentServer]
) -> None:
    """Three sentinels that never answer: every check that needs Redis fails, named, and
    `check` ends within its bound."""
    url = ";".join(f"sentinel://{s.addr}/0" for s in silent_group)
    env = {**_shipped(stack.env), "ROTATOR_REDIS_URL": url, "ROTATOR_REDIS_SENTINEL_MASTER": "m"}
    elapsed, out, code = _timed(env, "check")
    assert code == 1 and elapsed < CHECK_BOUND, (elapsed, out)
    assert "did not answer within" in out
