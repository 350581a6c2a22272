"""Part of the hvac seam: the network under requests, where every Vault call's deadline is kept.

requests (urllib3, http.client) times each socket operation on its own: a Vault, or anything
in its place, that sends its status line and headers one byte every 2 s never trips a 10 s
read timeout, and the call holds its worker thread (and the auth config's lock) for ever. So
hvac gets a ``DeadlineSession``: each request runs inside ``CALL.running(seconds)``
(``rotator.core.deadline``, ``ROTATOR_VAULT_TIMEOUT``), and its connections (urllib3's, with
two small overrides) cut the connect and TLS handshake, every send, and every read of the
status line, headers and body to what is left of it. When nothing is left the socket raises its
own timeout, which requests reports as ``requests.Timeout``; the connection is dropped as after
any timeout. No watchdog thread, nothing closed under another thread's feet. (DNS resolution is
the one wait no socket timeout bounds. A SOCKS proxy keeps urllib3's own connections, unbounded.)
"""

from __future__ import annotations

import http.client
import io
import socket
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

from rotator.core.deadline import CallDeadline

__all__ = ["CALL", "DeadlineAdapter", "DeadlineSession"]

CALL = CallDeadline("rotator.vault.call")


def _left(timeout: float | None) -> float | None:
    left = CALL.left(timeout)
    if left is not None and left <= 0:
        raise TimeoutError("no whole answer within the call's deadline")
    return left


class _Reads(io.RawIOBase):
    """The socket's own reader (``makefile("rb", buffering=0)``), each read cut to the
    deadline, then the socket's timeout put back as urllib3 set it."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        own = self._sock.gettimeout()
        self._sock.settimeout(_left(own))
        try:
            return self._raw.readinto(buffer)
        finally:
            self._sock.settimeout(own)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Socket:
    """All ``http.client.HTTPResponse`` takes from a socket: a reader, from ``makefile``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_Reads(self._sock))


class _Response(http.client.HTTPResponse):
    """http.client's response, reading status line, headers and body under the deadline."""

    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        shim: Any = _Socket(sock)
        super().__init__(shim, debuglevel, method, url)


class _Bounded(HTTPConnection):
    """urllib3's connection with the connect and every send cut to the deadline."""

    response_class = _Response

    def connect(self) -> None:
        if self.timeout is None or isinstance(self.timeout, int | float):
            self.timeout = _left(self.timeout)
        super().connect()

    def send(self, data: Any) -> None:
        if self.sock is None and self.auto_open:
            self.connect()
        sock = self.sock
        if sock is None:  # not connected: http.client says so
            super().send(data)
            return
        own = sock.gettimeout()
        sock.settimeout(_left(own))
        try:
            super().send(data)
        finally:
            sock.settimeout(own)


class _TLSConnection(_Bounded, HTTPSConnection):
    pass


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Bounded


class _TLSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


_POOLS: dict[str, type[urllib3.HTTPConnectionPool]] = {"http": _Pool, "https": _TLSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose pools (direct and through an HTTP proxy) use ``_Bounded``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager


class DeadlineSession(requests.Session):
    """A session whose every request (redirects included) ends within ``seconds``, connect,
    headers and body together; past it, whatever requests raised becomes ``requests.Timeout``
    (a body cut by the deadline is otherwise reported as a connection error)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        with CALL.running(self.seconds):
            try:
                return super().request(*args, **kwargs)
            except requests.RequestException as exc:
                if CALL.passed() and not isinstance(exc, requests.Timeout):
                    raise requests.ReadTimeout(f"no answer within {self.seconds:g} s") from exc
                raise
