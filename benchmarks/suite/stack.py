"""The benchmark's loopback stack: the sandbox's, with the emulator as a SUBPROCESS.

The emulator runs in its own process (``python -m rotator.devkit.emulator``) so that it never
competes with the measured code for a GIL; its admin endpoints give the journal (one entry per
request, with the server's wall-clock time) and switch its rate limit between phases. Each
phase uses its own Redis database and Vault prefix, so phases never see each other's state.
"""

from __future__ import annotations

import os
import re
import secrets
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self

import httpx

from rotator.devkit.sandbox.groups import stop_groups
from rotator.devkit.sandbox.processes import SandboxError
from rotator.devkit.sandbox.stack import StackBase
from rotator.settings.load import Settings, load_settings
from rotator.vault.client import VaultClient

__all__ = ["BenchStack", "EmulatorProcess", "clean_environ"]

_OWN_PREFIXES = ("VAULT_", "BAO_", "ROTATOR_", "COMPOSIO_")


def clean_environ() -> dict[str, str]:
    """This process's environment without any rotator/Vault/Composio setting of the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}


class EmulatorProcess:
    """``python -m rotator.devkit.emulator --port 0`` seeded with every benchmark auth config."""

    def __init__(self, api_key: str, nanoids: list[str], logdir: Path) -> None:
        self.api_key = api_key
        self._nanoids = nanoids
        self._log = logdir / "emulator.log"
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""
        self._http: httpx.Client | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> None:
        argv = [sys.executable, "-m", "rotator.devkit.emulator", "--port", "0", "--api-key"]
        argv += [self.api_key, "--seed-config", *self._nanoids]
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
            )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], 60.0)
        line = self._proc.stdout.readline() if ready else ""
        match = re.search(r"http://\S+", line)
        if match is None:
            self.stop()
            raise SandboxError(f"the emulator did not report its URL; see {self._log}")
        self.url = match.group(0)
        self._http = httpx.Client(base_url=self.url, timeout=60.0)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if self._http is not None:
            self._http.close()
            self._http = None
        if proc is None:
            return
        stop_groups([proc], grace=10)
        if proc.stdout is not None:
            proc.stdout.close()

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self._http is not None, "the emulator is not running"
        response = self._http.request(method, f"/_emulator/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def journal(self) -> list[dict[str, Any]]:
        """Every request since the last ``clear_journal`` (time is the server's ``time.time()``)."""
        entries = self._admin("GET", "journal")["entries"]
        return [e for e in entries if isinstance(e, dict)]

    def clear_journal(self) -> None:
        self._admin("DELETE", "journal")

    def set_rate_limit(self, limit: int | None, window: float = 60.0) -> None:
        self._admin("POST", "rate_limit", {"limit": limit, "window": window})


class BenchStack(StackBase[EmulatorProcess]):
    """``with BenchStack(nanoids, logdir) as stack:`` (or ``start``/``close``); all stops. The
    sandbox's stack builder, with the emulator as a subprocess."""

    def __init__(self, nanoids: list[str], logdir: Path) -> None:
        super().__init__(
            lambda key: EmulatorProcess(key, nanoids, logdir),
            composio_key=f"ck_bench_{secrets.token_hex(12)}",
        )
        self.logdir = logdir
        self._vault: VaultClient | None = None
        self.started_in = 0.0

    def start(self) -> Self:
        started = time.perf_counter()
        super().start()
        self.started_in = time.perf_counter() - started
        return self

    def stop(self) -> None:
        if self._vault is not None:
            self._vault.close()
            self._vault = None
        super().stop()

    def close(self) -> None:
        self.stop()

    def env(self, *, prefix: str, db: int, **overrides: str) -> dict[str, str]:
        """rotator's settings for one phase: its own Vault prefix and Redis database."""
        env = {
            **self.base_env(prefix=prefix, db=db),
            "ROTATOR_RESYNC_INTERVAL": "0",
            "ROTATOR_LOG_FORMAT": "json",
            "ROTATOR_LOG_LEVEL": "INFO",
        }
        env.update(overrides)
        return env

    def settings(self, *, prefix: str, db: int, **overrides: str) -> Settings:
        return load_settings(self.env(prefix=prefix, db=db, **overrides))

    @property
    def vault(self) -> VaultClient:
        """One shared root-token client for seeding (it registers no secrets for redaction)."""
        if self._vault is None:
            self._vault = VaultClient(self.settings(prefix="composio/bench", db=0))
        return self._vault
