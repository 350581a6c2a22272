"""Where the emulator may listen, and who may use its admin endpoints.

The admin endpoints under ``/_emulator/`` hand out raw secrets and replace the accepted API keys,
so the emulator listens on loopback only. Another address (``0.0.0.0``, ``::``, a LAN address, a
name that resolves to one) takes both ``allow_remote`` and an admin token, and then every admin
endpoint but ``health`` asks for that token.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Mapping

__all__ = ["ADMIN_TOKEN_HEADER", "MIN_TOKEN_LENGTH", "admin_denial", "bind_problem", "is_loopback"]

ADMIN_TOKEN_HEADER = "x-emulator-admin-token"  # noqa: S105  (a header name, not a token)
MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """True when every address ``host`` stands for is a loopback address ("" is every address)."""
    if not host.strip():
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {str(info[4][0]).split("%", 1)[0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def bind_problem(host: str, *, allow_remote: bool, admin_token: str | None) -> str | None:
    """Why the emulator must not listen on ``host`` with these options, or None when it may."""
    if admin_token is not None and len(admin_token) < MIN_TOKEN_LENGTH:
        return f"the admin token is shorter than {MIN_TOKEN_LENGTH} characters"
    if allow_remote and admin_token is None:
        return "--allow-remote needs --admin-token: the admin endpoints hand out raw secrets"
    if is_loopback(host) or allow_remote:
        return None
    return (
        f"refusing to listen on {host!r}: not a loopback address, and the admin endpoints hand "
        "out raw secrets; bind 127.0.0.1, or pass --allow-remote with --admin-token"
    )


def admin_denial(admin_token: str | None, headers: Mapping[str, str]) -> int | None:
    """401 without a token, 403 with a wrong one, None when the request may go on."""
    if admin_token is None:
        return None
    given = headers.get(ADMIN_TOKEN_HEADER)
    if given is None:
        auth = headers.get("authorization", "")
        given = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
    if given is None:
        return 401
    if not hmac.compare_digest(given.encode(), admin_token.encode()):
        return 403
    return None
