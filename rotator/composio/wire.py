"""Part of the Composio seam: the network under httpx, where every call's deadline is kept.

httpx times each socket operation on its own (``httpx.Timeout``): a server that sends
``HTTP/1.1 200 OK\\r\\nX-Drip: `` and then one byte every 2 s never trips a 30 s read timeout,
and the call holds its worker thread and the auth config's lock for ever. So the client runs
each exchange inside ``CALL.running(seconds)`` (``rotator.core.deadline``), and the transport
built here hands httpcore a network backend whose connect, TLS handshake, reads and writes each
get at most what is left of that deadline, and fail with httpcore's own timeout once nothing
is left. No watchdog thread, no socket closed under another thread's feet: the thread that
waits is the one that gives up, and the connection is then dropped by httpcore as after any
timeout. (DNS resolution is the one wait no socket timeout bounds; Composio is one host.)

Passing our own transport turns off httpx's reading of proxy variables, so ``transport`` reads
them once, with the standard library's rules (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), as
the Vault seam does.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpcore
import httpx

from rotator.composio.parse import Answer, inspect_response, transport_failure
from rotator.composio.request import ssl_cause, tls_error
from rotator.core.deadline import CallDeadline
from rotator.core.errors import ConfigError

__all__ = ["CALL", "DeadlineBackend", "exchange", "transport"]

CALL = CallDeadline("rotator.composio.call")
_WRITE_SLICE = 64 * 1024  # a large write is sent in slices, each under the deadline


def _left(timeout: float | None, late: type[httpcore.TimeoutException]) -> float | None:
    left = CALL.left(timeout)
    if left is not None and left <= 0:
        raise late("no whole answer within the call's deadline")
    return left


class _Stream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the running call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_SLICE):
            piece = buffer[start : start + _WRITE_SLICE]
            self._inner.write(piece, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with ``CALL``'s deadline on every operation."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        wait = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, wait, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        wait = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, wait, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Transport(httpx.HTTPTransport):
    """httpx's transport with ``DeadlineBackend`` under its connection pool.

    httpx builds the pool and offers no parameter for its backend; httpcore's pools keep it in
    ``_network_backend``. If a new httpx or httpcore moves it, construction fails here, loudly,
    rather than every call silently losing its deadline (tests/test_deadlines.py pins it)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pool = self._pool
        if not isinstance(getattr(pool, "_network_backend", None), httpcore.NetworkBackend):
            raise RuntimeError(
                f"httpx {httpx.__version__} / httpcore {httpcore.__version__}: the connection "
                "pool's network backend moved; rotator cannot bound Composio calls"
            )
        pool._network_backend = DeadlineBackend(pool._network_backend)


def _env_proxy(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url``, None when none or bypassed."""
    url = httpx.URL(base_url)
    proxies = urllib.request.getproxies()
    if urllib.request.proxy_bypass(url.host):
        return None
    return proxies.get(url.scheme) or proxies.get("all")


def transport(
    base_url: str, *, verify: ssl.SSLContext | bool, limits: httpx.Limits
) -> httpx.BaseTransport:
    """The one transport to Composio: deadline-bound, through the environment's proxy if any."""
    proxy = _env_proxy(base_url)
    try:
        return _Transport(verify=verify, limits=limits, proxy=proxy)
    except (ValueError, ImportError, httpx.InvalidURL) as exc:  # its text may hold a password
        raise ConfigError(
            "the proxy HTTPS_PROXY or ALL_PROXY names for Composio cannot be used "
            f"({type(exc).__name__}): use an http://, https:// or socks5:// URL"
        ) from None


def exchange(client: httpx.Client, request: httpx.Request, *, within: float, limit: int) -> Answer:
    """Send ``request`` and read its answer (``limit`` bytes of body at most), all of it within
    ``within`` seconds. No whole answer by then is a transport failure (a timeout naming the
    deadline), whatever had arrived: the call is transient, its thread and lock free again."""
    with CALL.running(within):
        try:
            response = client.send(request, stream=True)
            try:
                return inspect_response(response, now=datetime.now(UTC), limit=limit)
            finally:
                response.close()
        except httpx.TransportError as exc:
            tls = ssl_cause(exc)
            if tls is not None:  # no retry makes a CA trusted
                raise tls_error(client.base_url, tls) from exc
            return Answer(transport_failure(exc, deadline=within if CALL.passed() else None))
