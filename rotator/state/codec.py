"""Redis hashes <-> value types: pure parsing and flattening, no Redis client here.

A damaged or partial record parses as absent (None): rotator then re-pushes, which is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping

from rotator.core.models import AppliedState, LastError
from rotator.core.states import ErrorKind

__all__ = ["Field", "applied_from", "flat", "last_error_from", "opt_int"]


def opt_int(raw: str | None) -> int | None:
    return int(raw) if raw not in (None, "") else None


Field = bytes | bytearray | memoryview | str | int | float


def flat(fields: Mapping[str, object]) -> dict[Field, Field]:
    """A hash mapping for HSET/XADD: every value as text, Nones left out."""
    return {k: str(v) for k, v in fields.items() if v is not None}


def applied_from(raw: Mapping[str, str]) -> AppliedState | None:
    try:
        return AppliedState(
            version=int(raw["version"]),
            fingerprint=raw["fingerprint"],
            applied_at=float(raw["applied_at"]),
            request_id=raw.get("request_id") or None,
            vault_path=raw.get("vault_path") or None,
            binding=raw.get("binding") or None,
            vault_created=raw.get("vault_created") or None,
        )
    except (KeyError, ValueError):
        return None  # absent or damaged: treated as never applied -> a harmless re-push


def last_error_from(raw: Mapping[str, str]) -> LastError | None:
    if not raw:
        return None
    try:
        return LastError(
            kind=ErrorKind(raw.get("kind", "")),
            message=raw.get("message", ""),
            at=float(raw.get("at", 0)),
            status=opt_int(raw.get("status")),
            slug=raw.get("slug") or None,
            request_id=raw.get("request_id") or None,
            attempts=int(raw.get("attempts", 0)),
            vault_version=opt_int(raw.get("vault_version")),
            vault_created=raw.get("vault_created") or None,
        )
    except ValueError:
        return None
