"""Part of the hvac seam (with ``vault`` and ``vault_auth``): Vault error translation.

Only these three modules import hvac. ``translate`` maps every hvac/requests failure to the
``rotator.core.errors`` tree once, naming the operation and the path, never a value.
"""

from __future__ import annotations

from typing import Any

import requests
from hvac import exceptions as hvac_exc

from rotator.core.errors import (
    PermanentError,
    RotatorError,
    SecretFormatError,
    SecretNotFound,
    VaultAccessDenied,
    VaultUnavailable,
)

__all__ = ["DENIED", "as_dict", "detail", "translate"]

DENIED = (hvac_exc.Forbidden, hvac_exc.Unauthorized)
_TRANSIENT_STATUS: dict[type[Exception], int | None] = {
    hvac_exc.VaultDown: 503,
    hvac_exc.InternalServerError: 500,
    hvac_exc.BadGateway: 502,
    hvac_exc.VaultNotInitialized: 501,
    hvac_exc.RateLimitExceeded: 429,
    hvac_exc.PreconditionFailed: 412,  # Vault's "not replicated here yet, try again"
    hvac_exc.UnexpectedError: None,
}


def detail(exc: Exception) -> str:
    """Vault's own error text (never secret material), trimmed."""
    errors = getattr(exc, "errors", None)
    text = "; ".join(str(e) for e in errors) if errors else ""
    return " ".join(text.split())[:200] or "no detail"


def _not_found(exc: Exception, where: str) -> SecretNotFound:
    body = getattr(exc, "json", None)
    meta = ((body or {}).get("data") or {}).get("metadata") if isinstance(body, dict) else None
    if isinstance(meta, dict) and meta.get("destroyed"):
        return SecretNotFound(f"{where}: version {meta.get('version')} is destroyed", status=404)
    if isinstance(meta, dict) and meta.get("deletion_time"):
        return SecretNotFound(f"{where}: version {meta.get('version')} is deleted", status=404)
    return SecretNotFound(f"no secret at {where}", status=404)


def _transport(
    exc: requests.RequestException, doing: str, addr: str, timeout: float
) -> RotatorError:
    if isinstance(exc, requests.Timeout):
        return VaultUnavailable(f"Vault at {addr} did not answer {doing} within {timeout:g} s")
    if isinstance(exc, requests.exceptions.SSLError):
        why = "certificate not trusted" if "CERTIFICATE_VERIFY" in str(exc) else "handshake failed"
        fix = "set VAULT_CACERT to the CA bundle that signed Vault's certificate"
        return PermanentError(
            f"TLS to Vault at {addr} failed ({doing}): {why}; {fix}", suggested_fix=fix
        )
    return VaultUnavailable(f"cannot reach Vault at {addr} ({doing}): connection failed")


def translate(exc: Exception, *, op: str, where: str, addr: str, timeout: float) -> RotatorError:
    """The rotator error for one hvac/requests failure of ``op`` on ``where``: raise it ``from``."""
    if isinstance(exc, requests.RequestException):
        return _transport(exc, f"{op} {where}", addr, timeout)
    if isinstance(exc, hvac_exc.InvalidPath):
        return _not_found(exc, where)
    if isinstance(exc, DENIED):
        return VaultAccessDenied(f"Vault denied {op} on {where}: {detail(exc)}", status=403)
    for kind, status in _TRANSIENT_STATUS.items():
        if isinstance(exc, kind):
            why = "sealed or unavailable" if status == 503 else "failed"
            code = f" ({status})" if status else ""
            return VaultUnavailable(f"Vault {why}{code} on {op} {where}", status=status)
    return PermanentError(f"Vault rejected {op} on {where}: {detail(exc)}", status=400)


def as_dict(value: object, what: str) -> dict[str, Any]:
    """``value`` as a JSON object, or SecretFormatError naming ``what`` was malformed."""
    if not isinstance(value, dict):
        raise SecretFormatError(f"{what}: Vault answered {type(value).__name__}, not an object")
    return value
