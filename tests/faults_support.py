"""Helpers and fixtures for the fault suite (tests/fleet/test_faults.py): a 429-shaping fault mix,
stacks on dedicated servers (an AOF Redis to restart, an OpenBao to seal), worker subprocess
groups with per-test settings, and Redis/journal/log readers.

Loaded as a pytest plugin from conftest.py.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import secrets
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import hvac
import pytest
import redis

from rotator.devkit.emulator import Emulator, Fault, FaultMix
from rotator.devkit.sandbox import OpenBaoServer, RedisServer, SandboxError
from rotator.runtime import build_runtime
from rotator.settings.load import load_settings
from tests.helpers import Stack
from tests.procs import CELERY_ENV, Procs, wait_until

RATE_LIMITED_SLUG = "HTTP_TooManyRequests"


class ShapedMix(FaultMix):
    """A ``FaultMix`` whose 429s come in Composio's two bare body shapes instead of the envelope:
    ``{"message": "Rate limit exceeded..."}`` with ``Retry-After: 1``, or the headerless
    ``{"code": 10429, "slug": "HTTP_TooManyRequests"}``. The journal labels them ``429`` and
    ``429 HTTP_TooManyRequests``. One extra draw per 429 keeps a seeded run reproducible."""

    def draw(self, rng: random.Random) -> Fault | None:
        fault = super().draw(rng)
        if fault is None or fault.status != 429:
            return fault
        if rng.random() < 0.5:
            return Fault(status=429, body_shape="message", retry_after=self.retry_after)
        return Fault(status=429, body_shape="code_only", slug=RATE_LIMITED_SLUG)


# The settings tests.helpers shrinks for speed; dropped, the shipped defaults apply.
SHRUNK = ("ROTATOR_RETRY_BASE_DELAY", "ROTATOR_COMPOSIO_TIMEOUT", "ROTATOR_LOCK_TTL")


def default_env(stack: Stack) -> dict[str, str]:
    """The shipped defaults, logged at DEBUG: Celery's per-task "received"/"succeeded" lines
    (debug level, one canonical line per rotation at INFO) are how these tests name the tasks a
    kill cut short and count deliveries. The log level changes no timing setting."""
    env = {k: v for k, v in stack.env.items() if k not in SHRUNK}
    return {**env, "ROTATOR_LOG_FORMAT": "json", "ROTATOR_LOG_LEVEL": "DEBUG"}


def secret_value(nanoid: str, tag: str = "v1") -> str:
    return f"S3CR3T-{nanoid}-{tag}"


def seed(stack: Stack, ids: Iterable[str], tag: str = "v1", threads: int = 16) -> None:
    """One auth config per id, in Composio (empty) and in Vault (``client_secret``)."""
    ids = list(ids)
    for nanoid in ids:
        stack.emu.add_auth_config(nanoid)

    def write(nanoid: str) -> int:
        return stack.write(nanoid, {"credentials": {"client_secret": secret_value(nanoid, tag)}})

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(write, ids))


def in_step(emu: Emulator, ids: Iterable[str], tag: str = "v1") -> list[str]:
    """The ids whose Composio credentials are NOT yet exactly Vault's (empty: all in step)."""
    return [i for i in ids if emu.credentials(i) != {"client_secret": secret_value(i, tag)}]


def applied_versions(stack: Stack, ids: list[str]) -> dict[str, int | None]:
    """Each id's applied version in Redis, in one round trip (None: not recorded)."""
    briefs = stack.rt.state.briefs(ids)
    return {i: b.applied_version for i, b in briefs.items()}


def recorded(stack: Stack, ids: list[str], version: int = 1) -> list[str]:
    """The ids whose applied version is NOT yet ``version`` (empty: all recorded)."""
    return [i for i, v in applied_versions(stack, ids).items() if v != version]


def patched(emu: Emulator, at_least: int) -> Callable[[], bool]:
    """A predicate: the emulator has journaled ``at_least`` PATCHes (any outcome)."""
    return lambda: len(emu.patches()) >= at_least


def patch_counts(emu: Emulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in emu.patches():
        if entry.nanoid is not None:
            counts[entry.nanoid] = counts.get(entry.nanoid, 0) + 1
    return counts


def fault_labels(emu: Emulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in emu.patches():
        label = entry.fault or "none"
        counts[label] = counts.get(label, 0) + 1
    return counts


def events(text: str, event: str) -> list[dict[str, Any]]:
    """The JSON log lines with ``"event": event`` in a mixed log text."""
    out = []
    for line in text.splitlines():
        if f'"{event}"' not in line:
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and parsed.get("event") == event:
            out.append(parsed)
    return out


def dump_redis(url: str) -> str:
    """Every key and every value in a Redis server, as one text."""
    parts: list[str] = []
    with redis.Redis.from_url(url) as r:
        for key in r.scan_iter(count=1000):
            parts.append(repr(key))
            kind = r.type(key)
            if kind == b"string":
                parts.append(repr(r.get(key)))
            elif kind == b"hash":
                parts.append(repr(r.hgetall(key)))
            elif kind == b"set":
                parts.append(repr(r.smembers(key)))
            elif kind == b"list":
                parts.append(repr(r.lrange(key, 0, -1)))
            elif kind == b"zset":
                parts.append(repr(r.zrange(key, 0, -1, withscores=True)))
            elif kind == b"stream":
                parts.append(repr(r.xrange(key)))
    return "\n".join(parts)


def audit_times(stack: Stack, outcome: str) -> list[float]:
    """When (epoch seconds, from the stream ids) each audit event with ``outcome`` was written."""
    raw = stack.rt.state.audit_events(count=100_000)
    return [int(i.split("-")[0]) / 1000 for i, e in raw if e.get("outcome") == outcome]


def build_stack(env: dict[str, str], emu: Emulator) -> Stack:
    prefix = env["ROTATOR_VAULT_PREFIX"]
    return Stack(build_runtime(load_settings(env)), emu, env, prefix, f"{prefix}-keys/composio")


class Workers:
    """Groups of worker/beat subprocesses with per-test settings; all stopped at teardown."""

    def __init__(self, logdir: Path) -> None:
        self._logdir = logdir
        self._groups: list[Procs] = []

    def group(self, env: dict[str, str]) -> Procs:
        procs = Procs(env, self._logdir)
        self._groups.append(procs)
        return procs

    def stop_all(self) -> None:
        for procs in self._groups:
            procs.stop_all()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    w = Workers(tmp_path)
    try:
        yield w
    finally:
        w.stop_all()


def celery_settings(stack: Stack, **overrides: str) -> dict[str, str]:
    """The stack's settings, the short worker settings of tests.procs, then ``overrides``.

    Some fault tests shrink further (visibility 8 s, lock TTL 3 s, max delay 2 s): live workers
    renew what they hold (messages every 8 / 6 s, locks every 1 s), so nothing a live worker
    holds is redelivered; they exist so a SIGKILLed worker's tasks come back within a test's
    deadline. The SIGKILL tests run with the shipped defaults."""
    return {**stack.env, **CELERY_ENV, **overrides}


def _start(server: RedisServer | OpenBaoServer) -> None:
    try:
        server.start()
    except SandboxError as exc:
        pytest.fail(str(exc), pytrace=False)


def crash(server: RedisServer) -> None:
    """SIGKILL a server's process group (a crash: no shutdown, no AOF rewrite), then let its
    handle forget the dead process so ``start()`` can bring it back on the same port and dir."""
    assert server.pid is not None and server.running
    os.killpg(server.pid, signal.SIGKILL)
    server.stop()


@pytest.fixture
def aof_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, append-only file on, to restart mid-run."""
    server = RedisServer(appendonly=True)
    _start(server)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def aof_stack(
    stack_env: dict[str, str], emu: Emulator, aof_redis: RedisServer, log_stream: io.StringIO
) -> Iterator[Stack]:
    s = build_stack({**stack_env, "ROTATOR_REDIS_URL": aof_redis.url}, emu)
    try:
        yield s
    finally:
        s.rt.close()


class SealableBao:
    """An OpenBao dev server of this test's own, with its unseal key (from the dev banner)."""

    def __init__(self, server: OpenBaoServer) -> None:
        self.server = server
        self.root = hvac.Client(url=server.addr, token=server.root_token.reveal(), timeout=5)
        wait_until("the dev banner with the unseal key", self._banner, timeout=10)
        found = re.search(r"Unseal Key: (\S+)", server.log_path.read_text(errors="replace"))
        assert found is not None
        self._unseal_key = found.group(1)

    def _banner(self) -> bool:
        return "Unseal Key: " in self.server.log_path.read_text(errors="replace")

    def seal(self) -> None:
        self.root.sys.seal()
        assert self.root.sys.is_sealed()

    def unseal(self) -> None:
        self.root.sys.submit_unseal_key(self._unseal_key)
        assert not self.root.sys.is_sealed()


@pytest.fixture
def sealable_bao() -> Iterator[SealableBao]:
    server = OpenBaoServer()
    _start(server)
    try:
        yield SealableBao(server)
    finally:
        server.close()


@pytest.fixture
def sealable_stack(
    stack_env: dict[str, str], emu: Emulator, sealable_bao: SealableBao, log_stream: io.StringIO
) -> Iterator[Stack]:
    env = {
        **stack_env,
        "VAULT_ADDR": sealable_bao.server.addr,
        "VAULT_TOKEN": sealable_bao.server.root_token.reveal(),
    }
    s = build_stack(env, emu)
    try:
        yield s
    finally:
        s.rt.close()


def make_approle(root: Any, prefix: str, *, ttl: str = "60s") -> dict[str, str]:
    """AppRole at a fresh mount, a role reading ``secret/<prefix>``; returns the worker env."""
    mount = f"approle-{secrets.token_hex(4)}"
    policy = f"p-{secrets.token_hex(4)}"
    hcl = "\n".join(
        f'path "secret/{kind}/{prefix}{tail}" {{ capabilities = ["read", "list"] }}'
        for kind in ("data", "metadata")
        for tail in ("", "/*")
    )
    root.sys.create_or_update_policy(name=policy, policy=hcl)
    root.sys.enable_auth_method("approle", path=mount)
    root.auth.approle.create_or_update_approle(
        "rotator", token_policies=[policy], token_ttl=ttl, token_max_ttl="1h", mount_point=mount
    )
    role_id = root.auth.approle.read_role_id("rotator", mount_point=mount)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("rotator", mount_point=mount)["data"]
    return {
        "ROTATOR_VAULT_AUTH": "approle",
        "VAULT_APPROLE_MOUNT": mount,
        "VAULT_ROLE_ID": str(role_id),
        "VAULT_SECRET_ID": str(secret_id["secret_id"]),
    }


def wait_for(
    what: str, predicate: Callable[[], bool], timeout: float, explain: Callable[[], str]
) -> None:
    """``wait_until``, and at the deadline a failure that also says what was still missing."""
    try:
        wait_until(what, predicate, timeout)
    except pytest.fail.Exception:
        pytest.fail(f"timed out after {timeout:.0f}s waiting for: {what}\n{explain()}", False)


def converged(stack: Stack, ids: list[str], procs: Procs) -> None:
    """Wait until Composio holds Vault's values for every id, then until each is recorded."""
    why = lambda: explain(stack, ids, procs)  # noqa: E731
    wait_for("every auth config equal to Vault", lambda: not in_step(stack.emu, ids), 60, why)
    wait_for("every success recorded", lambda: not recorded(stack, ids), 30, why)


def explain(stack: Stack, ids: list[str], procs: Procs | None = None, tag: str = "v1") -> str:
    """What is still out of step, and why, for a failure message."""
    behind = in_step(stack.emu, ids, tag)
    unrecorded = recorded(stack, ids)
    lines = [f"{len(behind)} of {len(ids)} not equal to Vault: {behind[:8]}"]
    lines.append(f"{len(unrecorded)} without an applied version: {unrecorded[:8]}")
    for nanoid in (behind or unrecorded)[:4]:
        journal = [(e.status, e.fault) for e in stack.emu.patches(nanoid)]
        error = stack.rt.state.get_last_error(nanoid)
        lines.append(f"  {nanoid}: PATCHes {journal}; last error {error}")
    lines.append(f"dead letters: {len(stack.rt.state.dead_letters())}")
    if procs is not None:
        text = procs.output()
        for event in ("rotation.failed", "rotation.retrying", "rotation.succeeded"):
            lines.append(f"{event}: {len(events(text, event))}")
        tracebacks = text.count("Traceback")
        lines.append(f"tracebacks in worker logs: {tracebacks}")
        lines.append("worker log tail:\n" + "\n".join(text.splitlines()[-15:]))
    return "\n".join(lines)
