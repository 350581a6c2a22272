"""Servers of the tests' own that misbehave on purpose, on free loopback ports: one that
accepts connections and never answers a byte, and a fake Sentinel whose answers are wrong.
Loaded as a pytest plugin from conftest.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

__all__ = ["FakeSentinel", "SilentServer", "silent_server"]


class SilentServer:
    """Accepts every connection, reads what it is sent, and never answers: a Redis, Sentinel
    or Vault that hangs (the connect succeeds; every read waits)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = int(self._sock.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass  # read and drop: the client's writes never block
        except OSError:
            return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for conn in self._held:
            conn.close()


def _commands(data: bytes) -> list[list[bytes]]:
    """The RESP arrays in ``data`` (a client's requests; whole ones only, as redis-py sends)."""
    out, lines, i = [], data.split(b"\r\n"), 0
    while i < len(lines) and lines[i].startswith(b"*"):
        n, i = int(lines[i][1:]), i + 1
        out.append([lines[i + 2 * k + 1] for k in range(n)])
        i += 2 * n
    return out


class FakeSentinel(SilentServer):
    """Answers ``SENTINEL get-master-addr-by-name`` (and ``SENTINEL masters``) with
    ``answer(name)``, a raw RESP reply, and ``PING``; every other command gets an error."""

    def __init__(self, answer: Callable[[str], bytes]) -> None:
        self._answer = answer
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while data := conn.recv(65536):
                conn.sendall(b"".join(self._reply(c) for c in _commands(data)))
        except OSError:
            return

    def _reply(self, command: list[bytes]) -> bytes:
        words = [c.decode(errors="replace").lower() for c in command]
        if words[:1] == ["ping"]:
            return b"+PONG\r\n"
        if words[:2] == ["sentinel", "get-master-addr-by-name"] and len(words) == 3:
            return self._answer(command[2].decode(errors="replace"))
        return b"-ERR unknown command\r\n"


def master_at(host: str, port: str) -> Callable[[str], bytes]:
    """A ``get-master-addr-by-name`` answer naming ``host``:``port`` (as given, unchecked)."""

    def answer(_name: str) -> bytes:
        h, p = host.encode(), port.encode()
        return b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(h), h, len(p), p)

    return answer


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()
