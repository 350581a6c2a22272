"""A hostile HTTP/1.1 server of the tests' own, on a free loopback port: answers that drip a
byte at a time, decompression bombs, stacked or unknown content encodings, oversized bodies.

Each request is answered by the ``Behaviour`` its ``route(method, path)`` picks, on a thread of
its own; every answer ends the connection. ``HostileServer.requests`` records what was asked,
``gone`` how long each connection was held open (for a drip: until the client hung up).
"""

from __future__ import annotations

import functools
import gzip
import json
import select
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType

__all__ = [
    "Behaviour",
    "Conn",
    "HostileServer",
    "answer",
    "drip_body",
    "drip_head",
    "gzip_bomb",
    "stream",
]

_HEAD_MAX = 64 * 1024


@dataclass
class Conn:
    """One accepted connection; ``send`` says False once the client is gone or we stop."""

    sock: socket.socket
    stop: threading.Event

    def send(self, data: bytes) -> bool:
        if self.stop.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; True as soon as the client hangs up (or the server stops)."""
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            if self.stop.is_set():
                return True
            readable, _, _ = select.select([self.sock], [], [], min(left, 0.05))
            if readable:
                try:
                    if not self.sock.recv(1, socket.MSG_PEEK):
                        return True
                except OSError:
                    return True
                self.stop.wait(min(left, 0.05))  # it sent more: not a hang-up
        return self.stop.is_set()

    def drip(self, data: bytes | None, interval: float) -> None:
        """One byte every ``interval`` s (of ``data``, else ``a`` for ever) until the client
        hangs up, noticed at once (the socket reads as closed), not at the next byte."""
        source = iter(data) if data is not None else iter(lambda: ord("a"), None)
        for byte in source:
            if not self.send(bytes([byte])) or self.wait(interval):
                return
        self.wait(interval)


Behaviour = Callable[[Conn], None]


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} Hostile", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join([*lines, "Connection: close", "", ""])).encode("latin-1")


def answer(
    status: int = 200, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> Behaviour:
    """A whole answer at once (``Content-Length`` is the bytes on the wire)."""
    fields = {"Content-Length": str(len(body)), **(headers or {})}

    def act(conn: Conn) -> None:
        conn.send(_head(status, fields) + body)

    return act


def stream(
    status: int, chunks: Callable[[], Iterable[bytes]], headers: Mapping[str, str] | None = None
) -> Behaviour:
    """An answer whose body is sent chunk by chunk as fast as the client reads it (no
    ``Content-Length``: it ends when the server closes), e.g. a 50 MB page never built whole."""

    def act(conn: Conn) -> None:
        if not conn.send(_head(status, {**(headers or {})})):
            return
        for chunk in chunks():
            if not conn.send(chunk):
                return

    return act


def drip_head(interval: float = 2.0) -> Behaviour:
    """``HTTP/1.1 200 OK`` and an endless header ``X-Drip: aaaa...``, one byte per ``interval``:
    every read gets a byte, so no per-read timeout ever fires."""

    def act(conn: Conn) -> None:
        if conn.send(b"HTTP/1.1 200 OK\r\nX-Drip: "):
            conn.drip(None, interval)

    return act


def drip_body(interval: float = 2.0, status: int = 200) -> Behaviour:
    """Whole headers promising a JSON body, then the body one byte per ``interval``."""
    body = json.dumps({"success": True, "pad": "x" * 4096}).encode()

    def act(conn: Conn) -> None:
        fields = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        if conn.send(_head(status, fields)):
            conn.drip(body, interval)

    return act


@functools.cache
def gzip_bomb(decoded: int, layers: int) -> bytes:
    """``decoded`` zero bytes, gzipped ``layers`` times (2 GiB in two layers is about 5 KB).

    The inner layer is built from one fully flushed 1 MiB block repeated (a full flush makes
    every block the same bytes), so making a 2 GiB bomb takes a second, not a minute."""
    block = 1 << 20
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = squeeze.compress(b"\0" * block) + squeeze.flush(zlib.Z_FULL_FLUSH)
    count = max(1, decoded // block)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(b"\0" * block, crc)
    size = (count * block) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    body = (
        header
        + one * count
        + squeeze.flush()
        + crc.to_bytes(4, "little")
        + size.to_bytes(4, "little")
    )
    for _ in range(layers - 1):
        body = gzip.compress(body, 9)
    return body


@dataclass
class HostileServer:
    """Serve ``route(method, path)``'s behaviour for each request until closed."""

    route: Callable[[str, str], Behaviour]
    requests: list[tuple[str, str]] = field(default_factory=list)
    gone: list[float] = field(default_factory=list)  # seconds each connection was held open

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @classmethod
    def always(cls, behaviour: Behaviour) -> HostileServer:
        return cls(lambda _method, _path: behaviour)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _serve(self, sock: socket.socket) -> None:
        started = time.monotonic()
        try:
            request = _read_request(sock)
            if request is None:
                return
            self.requests.append(request)
            self.route(*request)(Conn(sock, self._stop))
        finally:
            self.gone.append(time.monotonic() - started)
            sock.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._accepting.join(timeout=5)
        for worker in self._threads:
            worker.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _read_request(sock: socket.socket) -> tuple[str, str] | None:
    """The method and path of one request (its body read and dropped), None if none came."""
    sock.settimeout(10)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < _HEAD_MAX:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        length = next(
            (
                int(v)
                for k, _, v in (ln.partition(":") for ln in lines[1:])
                if k.lower() == "content-length"
            ),
            0,
        )
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            rest += chunk
    except (OSError, ValueError):
        return None
    sock.settimeout(None)
    return method, path


def repeated(piece: bytes, total: int) -> Callable[[], Iterator[bytes]]:
    """Chunks of ``piece`` repeated until ``total`` bytes went out (a body never held whole)."""

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            yield piece
            sent += len(piece)

    return chunks
