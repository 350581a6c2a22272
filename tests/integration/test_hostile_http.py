"""A slow or hostile answer cannot hold a call past its deadline or blow up memory.

Against the tests' own hostile server (``tests/hostile_http.py``) standing in for Composio or
Vault, with the session's real OpenBao and Redis: headers or bodies dripped a byte at a time end
at the documented timeout (connect, headers and body together) as a transient error naming it,
with the thread and the auth config's lock free again; decompression bombs, stacked or unknown
encodings and oversized answers are refused within a few MB of memory, each named for what it
is ("answer larger than N bytes", not "not JSON"), transient or unverified, never dead-lettered
as permanent for a 2xx.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from rotator.core.models import Outcome
from rotator.runtime import build_runtime
from rotator.settings.load import load_settings
from rotator.state.store import Keys
from tests.helpers import Stack
from tests.hostile_http import (
    Behaviour,
    HostileServer,
    answer,
    drip_body,
    drip_head,
    gzip_bomb,
    repeated,
    stream,
)
from tests.memory_support import run_cli_measured
from tests.procs import run_cli

Recorder = Callable[[str, object], None]  # pytest's record_property: a measured number
PATCH_OK = answer(200, b'{"success": true}', {"Content-Type": "application/json"})
VIEW = json.dumps(
    {"id": "ac_h1", "status": "ENABLED", "last_updated_at": "2026-01-01T00:00:00Z"}
).encode()
BOMB = 2 << 30  # decoded bytes of every bomb: 2 GiB
MEMORY_MB = 500  # the issue's bound for any process under a bomb
SLACK = 1.0  # seconds past a deadline for the client to close and the server to notice (load)


@pytest.fixture
def hostile() -> Iterator[list[HostileServer]]:
    """Servers a test starts (``_serve``); each closed at the end, ending its drips."""
    servers: list[HostileServer] = []
    yield servers
    for server in servers:
        server.close()


def _serve(servers: list[HostileServer], patch: Behaviour, get: Behaviour = PATCH_OK) -> str:
    server = HostileServer(lambda method, _path: patch if method == "PATCH" else get)
    servers.append(server)
    return server.url


def _env(stack: Stack, url: str, **settings: str) -> dict[str, str]:
    """The stack's settings, Composio at ``url``, one attempt per call (no in-call retry)."""
    env = {**stack.env, "COMPOSIO_BASE_URL": url, "ROTATOR_RETRY_IN_CALL_ATTEMPTS": "1"}
    env.update(settings)
    return {k: v for k, v in env.items() if v != "default"}


def _held(server: HostileServer, count: int = 1) -> list[float]:
    """How long the client held each of the server's connections (polled: the server notices
    a hang-up at its next byte)."""
    deadline = time.monotonic() + 10
    while len(server.gone) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(server.gone)


# -- deadlines: Composio --------------------------------------------------------------------------


@pytest.mark.parametrize("drip", [drip_head(0.5), drip_body(0.5)], ids=["headers", "body"])
def test_a_dripping_patch_ends_at_the_deadline_and_frees_the_thread_and_the_lock(
    stack: Stack,
    hostile: list[HostileServer],
    drip: Behaviour,
    log_stream: io.StringIO,
    record_property: Recorder,
) -> None:
    """PATCH answered a byte every 0.5 s (headers, or a body after whole headers) with
    ROTATOR_COMPOSIO_TIMEOUT=2: the rotation returns retry_later naming the 2 s timeout within
    2 s of the PATCH (plus scheduling), and the auth config's lock is free."""
    stack.write("ac_h1", {"credentials": {"client_secret": "S3CR3T-drip-h1"}})
    url = _serve(hostile, drip)
    rt = build_runtime(load_settings(_env(stack, url, ROTATOR_COMPOSIO_TIMEOUT="2")))
    done: list[Outcome] = []
    worker = threading.Thread(target=lambda: done.append(rt.service.rotate("ac_h1")))
    try:
        started = time.monotonic()
        worker.start()
        worker.join(timeout=6)
        took = time.monotonic() - started
        assert not worker.is_alive(), f"the rotation thread was still held after {took:.1f} s"
        [outcome] = done
        assert outcome.result == "retry_later", outcome
        assert "Composio did not answer for ac_h1: timeout after 2 s" in str(outcome.error)
        assert stack.rt.state.redis.exists(Keys.lock("ac_h1")) == 0
        [held] = _held(hostile[0])
        record_property("held_s", round(held, 2))
        assert 1.9 < held < 2 + SLACK, f"the PATCH connection was held {held:.2f} s"
    finally:
        hostile[0].close()  # ends the drip: a thread still reading it is let go
        worker.join(timeout=30)
        rt.close()


@pytest.mark.timeout(90)
def test_the_shipped_composio_timeout_ends_the_issues_drip(
    stack: Stack, hostile: list[HostileServer], record_property: Recorder
) -> None:
    """The issue's reproduction with the shipped ROTATOR_COMPOSIO_TIMEOUT (30 s): headers
    dripped a byte every 2 s. `rotate --inline` ends after 30 s with retry_later (exit 1) naming
    the 30 s, instead of running for ever."""
    stack.write("ac_h2", {"credentials": {"client_secret": "S3CR3T-drip-h2"}})
    url = _serve(hostile, drip_head(2.0))
    env = _env(stack, url, ROTATOR_COMPOSIO_TIMEOUT="default")
    res = run_cli(env, "rotate", "ac_h2", "--inline", "--json", timeout=70)
    assert res.returncode == 1, res.stdout + res.stderr
    [outcome] = json.loads(res.stdout)
    assert outcome["result"] == "retry_later"
    assert "Composio did not answer for ac_h2: timeout after 30 s" in outcome["error"]
    [held] = _held(hostile[0])
    record_property("held_s", round(held, 2))
    assert 29.9 < held < 30 + SLACK, f"the PATCH connection was held {held:.2f} s"


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (("inventory",), "the auth config list"),
        (("rotate", "ac_h3", "--inline", "--verify", "--json"), "ac_h3"),
    ],
    ids=["inventory-list", "verify-get"],
)
def test_a_dripping_get_ends_at_the_deadline(
    stack: Stack,
    hostile: list[HostileServer],
    argv: tuple[str, ...],
    what: str,
    record_property: Recorder,
) -> None:
    """`inventory`'s list page and `--verify`'s read-back, dripped: each command ends about
    2 s after its GET with the timeout named, exit 1, nothing pushed."""
    stack.write("ac_h3", {"credentials": {"client_secret": "S3CR3T-drip-h3"}})
    url = _serve(hostile, PATCH_OK, get=drip_head(0.5))
    res = run_cli(_env(stack, url, ROTATOR_COMPOSIO_TIMEOUT="2"), *argv, timeout=30)
    output = res.stdout + res.stderr
    assert res.returncode == 1, output
    assert f"Composio did not answer for {what}: timeout after 2 s" in output
    assert [m for m, _ in hostile[0].requests] == ["GET"]
    [held] = _held(hostile[0])
    record_property("held_s", round(held, 2))
    assert 1.9 < held < 2 + SLACK, f"the GET connection was held {held:.2f} s"


# -- deadlines: Vault -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drip", "timeout"),
    [(drip_head(2.0), "default"), (drip_body(0.5), "2")],
    ids=["headers-shipped-10s", "body-2s"],
)
def test_a_dripping_vault_ends_at_the_vault_timeout(
    stack: Stack,
    hostile: list[HostileServer],
    drip: Behaviour,
    timeout: str,
    record_property: Recorder,
) -> None:
    """A "Vault" that drips its headers a byte every 2 s, with the shipped ROTATOR_VAULT_TIMEOUT
    (10 s), or its body with 2 s: `rotate --inline` ends at that timeout with one line naming
    it, exit 1."""
    server = HostileServer.always(drip)
    hostile.append(server)
    seconds = "10" if timeout == "default" else timeout
    env = {**_env(stack, stack.emu.url), "VAULT_ADDR": server.url}
    env["ROTATOR_VAULT_TIMEOUT"] = timeout
    res = run_cli({k: v for k, v in env.items() if v != "default"}, "rotate", "ac_h4", "--inline")
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"did not answer lookup-self auth/token/lookup-self within {seconds} s" in res.stderr
    [held] = _held(server)
    record_property("held_s", round(held, 2))
    assert float(seconds) - 0.1 < held < float(seconds) + SLACK, f"held {held:.2f} s"


# -- caps on the wire -----------------------------------------------------------------------------

_BOMBS = {
    "gzip-gzip": ("gzip, gzip", 2, "content encoding 'gzip, gzip' refused"),
    "gzip": ("gzip", 1, "answer larger than {limit} bytes"),
    "br": ("br", 2, "content encoding 'br' refused"),
}


@pytest.mark.parametrize("kind", sorted(_BOMBS))
def test_a_bombed_list_page_is_refused_in_little_memory(
    stack: Stack, hostile: list[HostileServer], kind: str, record_property: Recorder
) -> None:
    """`inventory` against a list page that decodes to 2 GiB (two gzip layers: 5 KB on the
    wire; one: 2 MB), or in an encoding never asked for: one line naming why (not "not JSON"),
    exit 1, and the process stays under 500 MB."""
    coding, layers, why = _BOMBS[kind]
    bomb = answer(200, gzip_bomb(BOMB, layers), {"Content-Encoding": coding})
    url = _serve(hostile, PATCH_OK, get=bomb)
    run = run_cli_measured(_env(stack, url), "inventory", timeout=30)
    record_property("peak_mb", round(run.peak_mb))
    assert run.killed is None and run.returncode == 1, run
    assert why.format(limit=4 * 1024 * 1024) in run.stderr, run.stderr
    assert "not JSON" not in run.stderr
    assert run.peak_mb < MEMORY_MB, f"inventory peaked at {run.peak_mb:.0f} MB"


@pytest.mark.parametrize("kind", sorted(_BOMBS))
def test_a_bombed_patch_answer_is_unverified_in_little_memory(
    stack: Stack, hostile: list[HostileServer], kind: str, record_property: Recorder
) -> None:
    """A 200 to the PATCH that decodes to 2 GiB, or comes in an encoding never asked for: the
    push is unverified (not recorded as applied, pushed again next time) naming why, and
    `rotate --inline` stays under 500 MB."""
    coding, layers, why = _BOMBS[kind]
    stack.write("ac_h5", {"credentials": {"client_secret": "S3CR3T-bomb-h5"}})
    bomb = answer(200, gzip_bomb(BOMB, layers), {"Content-Encoding": coding})
    url = _serve(hostile, bomb)
    run = run_cli_measured(_env(stack, url), "rotate", "ac_h5", "--inline", "--json", timeout=30)
    record_property("peak_mb", round(run.peak_mb))
    assert run.killed is None and run.returncode == 1, run
    [outcome] = json.loads(run.stdout)
    assert outcome["result"] == "unverified"
    assert outcome["error"].startswith(
        "a 2xx whose body could not be read: " + why.format(limit=65536)
    )
    assert stack.rt.state.get_applied("ac_h5") is None
    assert run.peak_mb < MEMORY_MB, f"rotate peaked at {run.peak_mb:.0f} MB"


def test_a_50_mb_list_page_is_too_large_not_garbled(
    stack: Stack, hostile: list[HostileServer], record_property: Recorder
) -> None:
    """A 50 MB list page: `inventory` says the answer is larger than its 4 MiB cap, exit 1,
    after reading about 4 MiB of it."""
    page = stream(200, repeated(b'{"items": [' + b'{"id": "ac_x"},' * 4000, 50 << 20))
    url = _serve(hostile, PATCH_OK, get=page)
    run = run_cli_measured(_env(stack, url), "inventory", timeout=30)
    record_property("peak_mb", round(run.peak_mb))
    assert run.killed is None and run.returncode == 1, run
    line = (
        "rotator: inventory: Composio answered 200 to the auth config list with a body it could"
        " not read: answer larger than 4194304 bytes"
    )
    assert run.stderr.strip().splitlines()[-1] == line, run.stderr
    assert run.peak_mb < MEMORY_MB


def test_a_5_mb_get_with_verify_is_too_large_and_transient(
    stack: Stack, hostile: list[HostileServer]
) -> None:
    """`rotate --inline --verify` whose read-back GET is a 5 MB 200: retry_later naming the
    size (a 2xx is not dead-lettered as permanent), nothing pushed, no dead letter."""
    stack.write("ac_h6", {"credentials": {"client_secret": "S3CR3T-big-h6"}})
    view = answer(200, VIEW[:-1] + b', "pad": "' + b"x" * (5 << 20) + b'"}')
    url = _serve(hostile, PATCH_OK, get=view)
    res = run_cli(_env(stack, url), "rotate", "ac_h6", "--inline", "--verify", "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    [outcome] = json.loads(res.stdout)
    assert outcome["result"] == "retry_later"
    assert "answer larger than 4194304 bytes" in outcome["error"]
    assert [m for m, _ in hostile[0].requests] == ["GET"]
    assert stack.rt.state.dead_letters() == []


def test_an_oversized_error_answer_keeps_its_status_rule(
    stack: Stack, hostile: list[HostileServer]
) -> None:
    """A 400 whose 1 MB body is a web page: failed by its status (permanent, as any 400),
    the message saying the answer is too large rather than quoting or misreading it."""
    stack.write("ac_h7", {"credentials": {"client_secret": "S3CR3T-big-h7"}})
    page = answer(400, b"<html>" + b"x" * (1 << 20), {"Content-Type": "text/html"})
    url = _serve(hostile, page)
    res = run_cli(_env(stack, url), "rotate", "ac_h7", "--inline", "--json")
    [outcome] = json.loads(res.stdout)
    assert (outcome["result"], outcome["http_status"]) == ("failed", 400)
    assert outcome["error"] == "Composio answered 400 for ac_h7: answer larger than 65536 bytes"


# -- through a proxy ------------------------------------------------------------------------------


@pytest.fixture
def dripping_proxy(hostile: list[HostileServer], monkeypatch: pytest.MonkeyPatch) -> HostileServer:
    """HTTP_PROXY names a proxy that drips its answer; nothing bypasses it."""
    proxy = HostileServer.always(drip_head(0.3))
    hostile.append(proxy)
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    return proxy


def test_composio_calls_still_go_through_the_environments_proxy_under_the_deadline(
    dripping_proxy: HostileServer,
) -> None:
    """rotator hands httpx its own transport (so httpx no longer reads proxy variables) and
    reads HTTP(S)_PROXY itself: a call still goes through the proxy, and a proxy that drips
    is held to the same deadline."""
    from rotator.composio.client import ComposioClient
    from rotator.core.models import Secret
    from rotator.core.retry import RetryBudget

    client = ComposioClient(
        base_url="http://127.0.0.1:9",
        key_provider=lambda _refresh: Secret("ck_test_proxy_0042"),
        key_refreshable=False,
        budget=RetryBudget(in_call_attempts=1),
        timeout=1.0,
    )
    started = time.monotonic()
    with client:
        info = client.ping()
    assert (info.status, info.failure) == (None, "timeout after 1 s")
    assert time.monotonic() - started < 1 + SLACK
    assert dripping_proxy.requests == [("GET", "http://127.0.0.1:9/api/v3/auth_configs?limit=1")]


def test_vault_calls_through_the_environments_proxy_keep_the_deadline(
    stack: Stack, dripping_proxy: HostileServer
) -> None:
    """A Vault reached through HTTP_PROXY, whose proxy drips: the call ends at
    ROTATOR_VAULT_TIMEOUT (2 s) as a Vault timeout."""
    from rotator.core.errors import VaultUnavailable
    from rotator.vault.client import VaultClient

    env = {**stack.env, "VAULT_ADDR": "http://127.0.0.1:9", "ROTATOR_VAULT_TIMEOUT": "2"}
    started = time.monotonic()
    vault = VaultClient(load_settings(env))
    with vault, pytest.raises(VaultUnavailable, match=r"did not answer lookup-self .* within 2 s"):
        vault.current_version("secret", "ac_h8")
    assert time.monotonic() - started < 2 + SLACK
    assert dripping_proxy.requests == [("GET", "http://127.0.0.1:9/v1/auth/token/lookup-self")]
