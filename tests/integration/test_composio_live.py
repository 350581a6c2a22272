"""The Composio client against the emulator over real sockets: retries, drops, hangs, re-auth."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from rotator.composio.client import ComposioClient
from rotator.core.errors import ComposioRejected, ComposioUnavailable
from rotator.core.models import Payload, Secret
from rotator.core.retry import RetryBudget
from rotator.devkit.emulator import Emulator, Fault

KEY = "ck_live_test_key"


class Rig:
    """An emulator with one auth config, and a client whose sleeps are recorded, not slept."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.sleeps: list[float] = []
        self.key = KEY  # what the client holds
        self.vault_key = KEY  # what a refresh reads from Vault
        self.refreshes = 0
        emu.add_auth_config("ac_live", credentials={"client_id": "id", "client_secret": "old"})

    def provide(self, refresh: bool) -> Secret:
        if refresh:
            self.refreshes += 1
            self.key = self.vault_key
        return Secret(self.key)

    def client(self, **kw: Any) -> ComposioClient:
        return ComposioClient(
            base_url=self.emu.url,
            key_provider=self.provide,
            key_refreshable=kw.pop("key_refreshable", True),
            budget=kw.pop("budget", RetryBudget()),
            sleep=self.sleeps.append,
            rand=lambda: 1.0,
            **kw,
        )


@pytest.fixture
def rig() -> Iterator[Rig]:
    with Emulator(api_keys=[KEY]) as emu:
        yield Rig(emu)


def secret(value: str) -> Payload:
    return Payload(type="custom", credentials={"client_secret": Secret(value)})


def test_two_503s_then_success(rig: Rig) -> None:
    """503, 503, 200 over the wire: three attempts, two backoff sleeps, the secret stored."""
    rig.emu.inject(Fault(status=503), nanoid="ac_live", times=2)
    with rig.client() as client:
        result = client.update_auth_config("ac_live", secret("new"))
    assert result.attempts == 3
    assert rig.sleeps == [0.5, 1.0]
    assert rig.emu.credentials("ac_live")["client_secret"] == "new"
    assert result.request_id


def test_429_retry_after_is_obeyed(rig: Rig) -> None:
    """A 429 with Retry-After: 2 is slept for exactly 2 s, then the PATCH lands."""
    rig.emu.inject(Fault(status=429, retry_after="2"), nanoid="ac_live", times=1)
    with rig.client() as client:
        assert client.update_auth_config("ac_live", secret("new")).attempts == 2
    assert rig.sleeps == [2.0]


def test_long_retry_after_goes_back_to_the_caller(rig: Rig) -> None:
    """A 429 with Retry-After: 120 is handed to the caller, unslept."""
    rig.emu.inject(Fault(status=429, retry_after="120"), nanoid="ac_live", times=1)
    with rig.client() as client, pytest.raises(ComposioUnavailable) as caught:
        client.update_auth_config("ac_live", secret("new"))
    assert caught.value.retry_after == 120.0
    assert rig.sleeps == []


def test_dropped_connection_is_retried(rig: Rig) -> None:
    """A connection closed without an answer is a blip: retried, and the PATCH lands."""
    rig.emu.inject(Fault(drop=True), nanoid="ac_live", times=1)
    with rig.client() as client:
        assert client.update_auth_config("ac_live", secret("new")).attempts == 2
    assert rig.emu.credentials("ac_live")["client_secret"] == "new"


def test_a_hanging_server_times_out(rig: Rig) -> None:
    """A server that never answers costs one read timeout per attempt, then a countdown."""
    rig.emu.inject(Fault(hang=True), nanoid="ac_live", times=None)
    budget = RetryBudget(in_call_attempts=2)
    started = time.monotonic()
    with rig.client(budget=budget, timeout=0.3) as client, pytest.raises(ComposioUnavailable) as c:
        client.update_auth_config("ac_live", secret("new"))
    assert "timeout" in str(c.value)
    assert getattr(c.value, "attempts", None) == 2
    assert time.monotonic() - started < 5.0


def test_html_from_a_proxy_is_a_clear_error(rig: Rig) -> None:
    """A 502 HTML page is described, not echoed, and retried like any 502."""
    page = Fault(status=502, body=b"<html>bad gateway</html>", content_type="text/html")
    rig.emu.inject(page, nanoid="ac_live", times=None)
    with rig.client() as client, pytest.raises(ComposioUnavailable) as caught:
        client.update_auth_config("ac_live", secret("new"))
    assert "body is not JSON (text/html" in str(caught.value)
    assert "bad gateway" not in str(caught.value)


def test_a_rotated_api_key_is_reread(rig: Rig) -> None:
    """After the org key is rotated, a 401 makes the client re-read it, once."""
    rig.emu.set_api_keys(["ck_rotated_key"])
    rig.vault_key = "ck_rotated_key"
    with rig.client() as client:
        assert client.update_auth_config("ac_live", secret("new")).attempts == 2
    assert rig.refreshes == 1
    rig.emu.set_api_keys(["ck_someone_elses_key"])
    with rig.client() as client, pytest.raises(ComposioRejected) as caught:
        client.update_auth_config("ac_live", secret("newer"))
    assert caught.value.status == 401
    assert rig.refreshes == 2
    assert "ck_rotated_key" not in str(caught.value)


def test_unknown_auth_config_is_rejected(rig: Rig) -> None:
    """A 404 from the emulator is a ComposioRejected after one attempt."""
    with rig.client() as client, pytest.raises(ComposioRejected) as caught:
        client.update_auth_config("ac_nope", secret("new"))
    assert caught.value.status == 404
    assert getattr(caught.value, "attempts", None) == 1


def test_one_client_serves_many_threads(rig: Rig) -> None:
    """The pooled client is shared by worker threads; every PATCH lands."""
    for n in range(8):
        rig.emu.add_auth_config(f"ac_t{n}")
    with rig.client(max_connections=4) as client, ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda n: client.update_auth_config(f"ac_t{n}", secret(f"s{n}")), range(8))
        )
    assert [r.status for r in results] == [200] * 8
    assert [rig.emu.credentials(f"ac_t{n}")["client_secret"] for n in range(8)] == [
        f"s{n}" for n in range(8)
    ]
