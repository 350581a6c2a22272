"""Redis records <-> value types: pure parsing and flattening, no Redis client here.

Records are read as bytes and parsed strictly, field by field: text must be UTF-8, a number
ASCII digits (``int`` would take ``٣`` or ``1_0``), a time a finite timestamp ``datetime`` can
show. A record that fails (or a key of another type, whose WRONGTYPE error a script returns in
its place) raises ``Unreadable``, whose message names the field and never quotes the value.
``rotator.state.records`` then reads that record as absent for its auth config alone: rotator
re-pushes, which is harmless.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rotator.core.models import AppliedState, LastError
from rotator.core.states import ErrorKind

__all__ = [
    "Field",
    "Reply",
    "Unreadable",
    "applied_brief",
    "applied_from",
    "count",
    "error_brief",
    "failures_from",
    "flat",
    "last_error_from",
]

Field = bytes | bytearray | memoryview | str | int | float
Reply = object  # one key as Redis gave it: bytes, None, a hash, or the error of another type

_TIME = re.compile(rb"[0-9]{1,12}(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?")
LATEST = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last second ``datetime`` can show
_KINDS = frozenset(kind.value for kind in ErrorKind)


class Unreadable(ValueError):
    """A stored record rotator cannot parse; the message names the field, never the value."""


def flat(fields: Mapping[str, object]) -> dict[Field, Field]:
    """A hash mapping for HSET/XADD: every value as text, Nones left out."""
    return {k: str(v) for k, v in fields.items() if v is not None}


def _not(reply: Reply, wanted: str) -> Unreadable:
    if isinstance(reply, BaseException):  # redis-py's error for a key of another type
        return Unreadable(f"the key is not {wanted} ({str(reply).split(' ', 1)[0][:20]})")
    return Unreadable(f"the key is not {wanted}")


def _bytes(raw: object, field: str) -> bytes | None:
    if raw is None or isinstance(raw, bytes):
        return raw or None
    raise Unreadable(f"{field} is not a string")


def text(raw: object, field: str) -> str | None:
    """UTF-8 text; None when missing or empty."""
    raw = _bytes(raw, field)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable(f"{field} is not UTF-8 text") from None


def count(raw: object, field: str) -> int | None:
    """A whole number in ASCII digits; None when missing or empty."""
    raw = _bytes(raw, field)
    if raw is None:
        return None
    if not (raw.isdigit() and len(raw) <= 19):  # bytes.isdigit: ASCII digits only
        raise Unreadable(f"{field} is not a whole number")
    return int(raw)


def moment(raw: object, field: str) -> float | None:
    """A Unix time as rotator writes it (``str(float)``); None when missing or empty."""
    raw = _bytes(raw, field)
    if raw is None:
        return None
    at = float(raw) if _TIME.fullmatch(raw) else None
    if at is None or at > LATEST:  # the pattern takes no nan, inf or sign; 1e400 is inf
        raise Unreadable(f"{field} is not a time rotator writes")
    return at


def _hash(reply: Reply) -> Mapping[bytes, bytes]:
    """A hash as read: a dict (HGETALL) or field, value, ... (a script); {} when absent."""
    if isinstance(reply, Mapping):
        return reply
    if isinstance(reply, list) and len(reply) % 2 == 0 and all(isinstance(x, bytes) for x in reply):
        return dict(zip(reply[::2], reply[1::2], strict=True))
    raise _not(reply, "a hash")


def _fields(reply: Reply, n: int) -> list[object]:
    """``n`` fields as HMGET returns them (None: missing; each is checked as it is parsed)."""
    if isinstance(reply, list) and len(reply) == n:
        return reply
    raise _not(reply, "a hash")


def applied_from(reply: Reply) -> AppliedState | None:
    """The applied state (None: never applied); ``Unreadable`` when damaged."""
    raw = _hash(reply)
    if not raw:
        return None
    version = count(raw.get(b"version"), "version")
    at = moment(raw.get(b"applied_at"), "applied_at")
    fingerprint = text(raw.get(b"fingerprint"), "fingerprint")
    if version is None or at is None or fingerprint is None:
        raise Unreadable("version, fingerprint or applied_at is missing")
    return AppliedState(
        version=version,
        fingerprint=fingerprint,
        applied_at=at,
        request_id=text(raw.get(b"request_id"), "request_id"),
        vault_path=text(raw.get(b"vault_path"), "vault_path"),
        binding=text(raw.get(b"binding"), "binding"),
        vault_created=text(raw.get(b"vault_created"), "vault_created"),
    )


def last_error_from(reply: Reply) -> LastError | None:
    """The last error (None: none stored); ``Unreadable`` when damaged."""
    raw = _hash(reply)
    if not raw:
        return None
    kind = text(raw.get(b"kind"), "kind") or ""
    if kind not in _KINDS:
        raise Unreadable("kind is not an error kind rotator writes")
    return LastError(
        kind=ErrorKind(kind),
        message=text(raw.get(b"message"), "message") or "",
        at=moment(raw.get(b"at"), "at") or 0.0,
        status=count(raw.get(b"status"), "status"),
        slug=text(raw.get(b"slug"), "slug"),
        request_id=text(raw.get(b"request_id"), "request_id"),
        attempts=count(raw.get(b"attempts"), "attempts") or 0,
        vault_version=count(raw.get(b"vault_version"), "vault_version"),
        vault_created=text(raw.get(b"vault_created"), "vault_created"),
    )


def failures_from(reply: Reply) -> int:
    """The count of consecutive permanent failures (0: none); a script's INCR gives a number."""
    if isinstance(reply, int) and reply >= 0:
        return reply
    if reply is not None and not isinstance(reply, bytes):
        raise _not(reply, "a number")
    return count(reply, "the failure count") or 0


def applied_brief(reply: Reply) -> tuple[int | None, float | None, str | None]:
    """(version, applied at, the version's creation time) from ``HMGET`` of the applied hash:
    all None when nothing was applied."""
    version, at, created = _fields(reply, 3)
    if version is None and at is None and created is None:
        return None, None, None
    parsed, when = count(version, "version"), moment(at, "applied_at")
    if parsed is None or when is None:
        raise Unreadable("version or applied_at is missing")
    return parsed, when, text(created, "vault_created")


def error_brief(reply: Reply) -> tuple[int | None, str | None]:
    """(the failed Vault version, its creation time) from ``HMGET`` of the last error."""
    version, created = _fields(reply, 2)
    return count(version, "vault_version"), text(created, "vault_created")
