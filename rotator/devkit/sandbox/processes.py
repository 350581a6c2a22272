"""The machinery of real local servers on free loopback ports (``servers`` has Redis and OpenBao).

Used by the tests and by ``rotator demo``. Each server runs in its own process group, logs to a
file in its working directory, and is stopped at interpreter exit if nobody stopped it before,
so a crashed test run leaves nothing behind (a SIGKILLed interpreter runs no ``atexit``: that
case is not covered).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from rotator.devkit.sandbox.groups import stop_groups

__all__ = ["ManagedServer", "SandboxError", "find_binary", "free_port", "port_is_free", "tail"]

_LIVE: set[ManagedServer] = set()
_LIVE_LOCK = threading.Lock()
_START_ATTEMPTS = 3


class SandboxError(RuntimeError):
    """A local server could not be found, started or reached; the message says how to fix it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def find_binary(name: str, *, venv_first: bool, hint: str) -> str:
    beside = Path(sys.executable).parent / name
    venv = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
    on_path = shutil.which(name)
    found = (venv or on_path) if venv_first else (on_path or venv)
    if found is None:
        raise SandboxError(f"{name} not found on PATH nor next to {sys.executable}: {hint}")
    return found


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class ManagedServer:
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
        stop_groups([proc], grace=10)

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
                    f"{port}; last lines of {self.log_path}:\n{tail(self.log_path)}"
                )
            if self._ready(port):
                return
            time.sleep(0.05)
        raise SandboxError(
            f"{self.name} did not answer on 127.0.0.1:{port} within {self.start_timeout:.0f} s; "
            f"last lines of {self.log_path}:\n{tail(self.log_path)}"
        )


@atexit.register
def _stop_all() -> None:
    """Stop every server still running when the interpreter exits."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        server.close()
