"""Part of the Composio seam (with ``composio`` and ``composio_parse``): what a request is built
from, checked before anything is sent: the base URL, the CA bundle, the path, the key header."""

from __future__ import annotations

import re
import ssl
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol
from urllib.parse import urlparse

import httpx

from rotator.core.errors import ConfigError, PermanentError, SecretFormatError
from rotator.core.models import ResponseInfo, Secret
from rotator.settings.kinds import is_loopback

__all__ = [
    "Limiter",
    "check_base_url",
    "config_path",
    "key_header",
    "ssl_cause",
    "tls_error",
    "user_agent",
    "verify_context",
]

_NANOID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def user_agent() -> str:
    try:
        return f"rotator/{version('rotator')}"
    except PackageNotFoundError:
        return "rotator/0"


def check_base_url(base_url: str) -> None:
    """https only; plain http just for loopback hosts (the emulator, a local tunnel)."""
    parsed = urlparse(base_url)
    if parsed.scheme == "https" and parsed.hostname:
        return
    if parsed.scheme == "http" and is_loopback(parsed.hostname):
        return
    shown = f"{parsed.scheme}://{parsed.hostname or ''}"
    raise ConfigError(
        f"COMPOSIO_BASE_URL={shown!r}: use https:// (plain http:// only for 127.0.0.0/8, ::1, "
        "localhost)"
    )


def verify_context(verify: str | bool) -> ssl.SSLContext | bool:
    if isinstance(verify, bool):
        return verify
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"CA bundle {verify!r} cannot be loaded: {exc}") from exc


def config_path(nanoid: str) -> str:
    if not _NANOID.fullmatch(nanoid):
        raise ConfigError(f"{nanoid!r} is not an auth config id (ac_ + letters, digits, _ or -)")
    return f"/api/v3/auth_configs/{nanoid}"


def key_header(key: Secret) -> str:
    value = key.reveal().strip()
    if not value or not (value.isascii() and value.isprintable()):
        raise SecretFormatError(
            "the Composio API key is empty or holds characters an HTTP header cannot carry"
        )
    return value


def ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` under an httpx transport error (httpx wraps httpcore wraps ssl)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class Limiter(Protocol):
    """A request budget shared with other clients (``rotator.ratelimit.limiter.RateLimiter``)."""

    def acquire(self) -> float:
        """0.0: send now; else seconds to wait before asking again."""

    def observe(self, info: ResponseInfo) -> None:
        """Learn from one answer (rate-limit headers, 429s)."""


def tls_error(url: httpx.URL, exc: ssl.SSLError) -> PermanentError:
    """A TLS failure to Composio is permanent and names the setting that fixes it."""
    why = "certificate not trusted" if "CERTIFICATE_VERIFY" in str(exc) else "handshake failed"
    fix = "set ROTATOR_COMPOSIO_CACERT to the CA bundle that signed Composio's certificate"
    where = f"{url.scheme}://{url.host}:{url.port or 443}"
    return PermanentError(f"TLS to Composio at {where} failed: {why}; {fix}", suggested_fix=fix)
