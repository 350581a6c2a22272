"""Fixtures and helpers for end-to-end tests: a runtime wired to real servers and the emulator.

Loaded as a pytest plugin from conftest.py.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from rotator.devkit.emulator import Emulator
from rotator.devkit.sandbox import free_port
from rotator.observability.logs import configure_logging
from rotator.runtime import Runtime, build_runtime
from rotator.settings.load import load_settings

COMPOSIO_KEY = "ck_test_0123456789"


@dataclass
class Stack:
    """A runtime plus direct handles on the emulator and the test's Vault prefix."""

    rt: Runtime
    emu: Emulator
    env: dict[str, str]
    prefix: str
    key_path: str

    def write(self, nanoid: str, data: dict[str, object]) -> int:
        return self.rt.vault.write_secret("secret", f"{self.prefix}/{nanoid}", data)

    def put(self, nanoid: str, data: dict[str, object], *, in_composio: bool = True) -> int:
        """Seed one auth config: in Vault under the prefix, and (by default) in Composio."""
        if in_composio:
            kind = "default" if data.get("type") == "default" else "custom"
            self.emu.add_auth_config(nanoid, type=kind)
        return self.write(nanoid, data)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Everything logged during the test, as JSON lines, through the real redaction pipeline."""
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    yield stream


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_keys=[COMPOSIO_KEY]) as emulator:
        yield emulator


@pytest.fixture
def stack_env(vault_env: dict[str, str], redis_url: str, emu: Emulator) -> dict[str, str]:
    """Settings for a runtime on the session OpenBao and Redis and this test's emulator."""
    return {
        **vault_env,
        "COMPOSIO_BASE_URL": emu.url,
        "COMPOSIO_API_KEY": COMPOSIO_KEY,
        "ROTATOR_REDIS_URL": redis_url,
        "ROTATOR_FINGERPRINT_KEY": secrets.token_hex(16),
        # Shrunk, each safe for the reason given (fleet reliability tests redo them with the
        # shipped defaults). In-call backoff: only how long a retry waits in a test; the
        # retry decision (which statuses, how many attempts) is unchanged.
        "ROTATOR_RETRY_BASE_DELAY": "0.01",
        # A loopback emulator answers in milliseconds; a hang fault still times out, just
        # sooner. Longer than any injected delay or drip the tests expect to complete.
        "ROTATOR_COMPOSIO_TIMEOUT": "5",
        # Longer than any in-process rotation here (5 s timeout x 3 attempts + Vault reads is
        # under 90 s) and renewed before the PATCH: no lock expires during a rotation.
        "ROTATOR_LOCK_TTL": "90",
    }


@pytest.fixture
def stack(stack_env: dict[str, str], emu: Emulator, log_stream: io.StringIO) -> Iterator[Stack]:
    rt = build_runtime(load_settings(stack_env))
    prefix = stack_env["ROTATOR_VAULT_PREFIX"]
    try:
        yield Stack(rt, emu, stack_env, prefix, f"{prefix}-keys/composio")
    finally:
        rt.close()


@pytest.fixture
def unreachable_vault_runtime(stack_env: dict[str, str]) -> Iterator[Runtime]:
    """A runtime whose Vault address has nothing listening."""
    env = {
        **stack_env,
        "VAULT_ADDR": f"http://127.0.0.1:{free_port()}",
        "ROTATOR_VAULT_TIMEOUT": "2",
    }
    rt = build_runtime(load_settings(env))
    yield rt
    rt.close()


@pytest.fixture
def key_in_vault_runtime(stack: Stack) -> Iterator[Runtime]:
    """A runtime that reads the Composio API key from Vault (ROTATOR_COMPOSIO_KEY_PATH)."""
    stack.rt.vault.write_secret("secret", stack.key_path, {"api_key": COMPOSIO_KEY})
    env = {k: v for k, v in stack.env.items() if k != "COMPOSIO_API_KEY"}
    env["ROTATOR_COMPOSIO_KEY_PATH"] = stack.key_path
    rt = build_runtime(load_settings(env))
    yield rt
    rt.close()
