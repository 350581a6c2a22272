"""`rotator check` reads like a checklist against the real stack: one line per check, ok/WARN/
FAIL, and the fix on every WARN and FAIL."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from rotator.devkit.sandbox import RedisServer, free_port
from rotator.reports.checklist import Level, fingerprint_line, redis_lines, vault_lines
from tests.helpers import Stack
from tests.paths import ROOT
from tests.procs import assert_cli_ok, run_cli

POLICY_FILE = ROOT / "deploy/vault/rotator-policy.hcl"
LINE = re.compile(r"(ok   |WARN |FAIL ) \S")


def _levels(out: str) -> dict[str, str]:
    """{check name: level} from check's output; every line is one check."""
    found = {}
    for line in out.splitlines():
        assert LINE.match(line), line
        level, name = line.split()[:2]
        found[name] = level
        assert ("-> fix:" in line) == (level != "ok"), line
    return found


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(appendonly=True, workdir=tmp_path).start()
    yield server
    server.close()


def _policy_token(stack: Stack) -> str:
    """A renewable token holding only the rotator policy, as deploy/vault/setup.sh grants."""
    addr, root = stack.env["VAULT_ADDR"], stack.env["VAULT_TOKEN"]
    headers = {"X-Vault-Token": root}
    body = {"policy": POLICY_FILE.read_text()}
    httpx.put(f"{addr}/v1/sys/policies/acl/rotator", json=body, headers=headers).raise_for_status()
    made = httpx.post(
        f"{addr}/v1/auth/token/create",
        json={"policies": ["rotator"], "no_default_policy": False, "ttl": "1h", "renewable": True},
        headers=headers,
    )
    made.raise_for_status()
    return str(made.json()["auth"]["client_token"])


def test_root_token_and_redis_without_aof_warn_with_their_fix(stack: Stack) -> None:
    """The test stack (root token, Redis without AOF) passes with two WARNs, each with a fix."""
    res = run_cli(stack.env, "check")
    assert_cli_ok(res)
    levels = _levels(res.stdout)
    assert levels["token"] == "WARN" and levels["aof"] == "WARN"
    assert "a root token" in res.stdout and "CONFIG SET appendonly yes" in res.stdout
    for name in ("vault", "renewal", "redis", "eviction", "fingerprint", "composio", "bindings"):
        assert levels[name] == "ok", res.stdout


def test_policy_token_and_aof_redis_are_ok(stack: Stack, aof_redis: RedisServer) -> None:
    """A renewable rotator-policy token and a Redis with AOF and noeviction: every line ok."""
    env = {
        **stack.env,
        "VAULT_TOKEN": _policy_token(stack),
        "ROTATOR_REDIS_URL": aof_redis.url,
        "ROTATOR_VAULT_PREFIX": "composio/auth_configs",  # what the policy grants
    }
    res = run_cli(env, "check")
    assert_cli_ok(res)
    assert set(_levels(res.stdout).values()) == {"ok"}, res.stdout


def test_a_failed_probe_is_fail_and_exit_1(stack: Stack) -> None:
    """A wrong Composio key: FAIL composio, exit 1, the key never printed."""
    res = run_cli({**stack.env, "COMPOSIO_API_KEY": "ck_wrong_key"}, "check")
    assert_cli_ok(res, 1)
    assert _levels(res.stdout)["composio"] == "FAIL" and "401" in res.stdout
    assert "ck_wrong_key" not in res.stdout + res.stderr


@pytest.mark.parametrize(
    ("info", "name", "level"),
    [
        ({"token_policies": ["default", "other"], "token_ttl": 60}, "token", Level.WARN),
        ({"token_policies": ["rotator"], "token_ttl": 60}, "renewal", Level.WARN),
        (
            {"token_policies": ["rotator"], "token_ttl": 60, "token_renewable": True},
            "renewal",
            Level.OK,
        ),
        (
            {"addr": "http://vault.corp.example:8200", "token_policies": ["rotator"]},
            "transport",
            Level.WARN,
        ),
    ],
)
def test_vault_rules(info: dict[str, object], name: str, level: Level) -> None:
    """Non-rotator policies, a token that cannot renew, plain HTTP off loopback (opted out)."""
    lines = {ln.name: ln for ln in vault_lines(info, allow_plaintext=True)}
    assert lines[name].level is level
    assert (lines[name].fix is None) == (level is Level.OK)


def test_redis_eviction_and_fingerprint_rules() -> None:
    """An eviction policy other than noeviction warns; a key file with a remote Redis warns."""
    lines = {
        ln.name: ln for ln in redis_lines({"aof_enabled": 1, "maxmemory_policy": "allkeys-lru"})
    }
    assert lines["eviction"].level is Level.WARN and lines["aof"].level is Level.OK
    remote = fingerprint_line(key_in_env=False, redis_url="redis://redis.corp.example:6379/0")
    assert remote.level is Level.WARN and "ROTATOR_FINGERPRINT_KEY" in (remote.fix or "")
    assert (
        fingerprint_line(key_in_env=True, redis_url="redis://redis.corp.example/0").level
        is Level.OK
    )
    assert fingerprint_line(key_in_env=False, redis_url="redis://127.0.0.1:1/0").level is Level.OK


def _on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``python -m rotator ARGS`` with stdout and stderr on one pseudo-terminal (as an operator
    sees it); its exit code and what the terminal showed."""
    main, tty = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rotator", *args],
        env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=tty, stderr=tty,
    )  # fmt: skip
    os.close(tty)
    shown = b""
    with suppress(OSError):  # EIO once the process has closed the terminal
        while chunk := os.read(main, 4096):
            shown += chunk
    os.close(main)
    return proc.wait(timeout=60), shown.decode().replace("\r\n", "\n")


def test_vault_and_redis_down_on_a_terminal_each_fail_once_and_their_dependents_are_unknown(
    stack: Stack,
) -> None:
    """Nothing listens at VAULT_ADDR or ROTATOR_REDIS_URL, on a terminal: Vault and Redis fail
    once each, with their own fix; what needs them (fingerprint with a local key file, bindings,
    breaker) is "unknown", naming the failure, never ok; Composio is checked; the log line the
    probes wrote comes after the checklist as a note; exit 1."""
    env = {**stack.env, "VAULT_ADDR": f"http://127.0.0.1:{free_port()}",
           "ROTATOR_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # fmt: skip
    env.pop("ROTATOR_FINGERPRINT_KEY", None)
    code, shown = _on_a_terminal(env, "check")
    vault, redis = env["VAULT_ADDR"], env["ROTATOR_REDIS_URL"]
    assert code == 1, shown
    assert shown.splitlines() == [
        f"FAIL  vault       VaultUnavailable: cannot reach Vault at {vault} (lookup-self "
        "auth/token/lookup-self): connection failed  -> fix: check VAULT_ADDR, the Vault auth "
        "settings and VAULT_CACERT",
        "FAIL  redis       StateUnavailable: Redis state store: ConnectionError  -> fix: check "
        "ROTATOR_REDIS_URL (and that the Redis is up)",
        "unknown fingerprint not checked: redis failed (StateUnavailable)",
        f"ok    composio    {stack.env['COMPOSIO_BASE_URL']} answered 200",
        "unknown bindings    not checked: vault failed (VaultUnavailable)",
        "unknown breaker     not checked: redis failed (StateUnavailable)",
        "note  warning ratelimit.unavailable op=acquire error=ConnectionError fail_open=True",
    ], shown
    assert redis not in shown
