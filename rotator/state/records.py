"""Each auth config's records parsed on their own (part of the Redis seam with store.py).

A record ``codec`` cannot parse is read as absent for its auth config alone, so that a
damaged value costs at most a harmless re-push, never the read of every other config: it is
logged as ``state.unreadable`` once per read (the key, the auth config and what is wrong, never
the value) and flagged on the ``Brief``, so the sweep counts it and queues the config, whose
rotation rewrites its records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import structlog

from rotator.core.models import Brief, StoredState
from rotator.state.codec import (
    Reply,
    Unreadable,
    applied_brief,
    applied_from,
    error_brief,
    failures_from,
    last_error_from,
)
from rotator.state.keys import Keys

__all__ = ["Records", "brief", "entries", "members", "stored"]

log = structlog.get_logger("rotator.state")
T = TypeVar("T")
_NO_APPLIED: tuple[int | None, float | None, str | None] = (None, None, None)
_NO_ERROR: tuple[int | None, str | None] = (None, None)


class Records:
    """The records of one auth config as they are parsed: ``unreadable`` once one failed."""

    def __init__(self, nanoid: str) -> None:
        self.nanoid = nanoid
        self.unreadable = False

    def parse(
        self, key: Callable[[str], str], parse: Callable[[Reply], T], reply: Reply, absent: T
    ) -> T:
        """``parse(reply)``, or ``absent`` (logged, with the key ``key(nanoid)``) when the
        record is damaged."""
        try:
            return parse(reply)
        except Unreadable as exc:
            self.unreadable = True
            log.warning(
                "state.unreadable",
                key=key(self.nanoid),
                auth_config_id=self.nanoid,
                problem=str(exc),
                read_as="absent",
            )
            return absent


def stored(nanoid: str, raw: tuple[Reply, Reply, Reply]) -> StoredState:
    """Applied state, last error and failure count, each as stored or absent."""
    applied, error, failures = raw
    one = Records(nanoid)
    return StoredState(
        applied=one.parse(Keys.applied, applied_from, applied, None),
        last_error=one.parse(Keys.last_error, last_error_from, error, None),
        failures=one.parse(Keys.failures, failures_from, failures, 0),
    )


def brief(nanoid: str, raw: tuple[Reply, Reply, Reply]) -> Brief:
    """What the sweep reads of one auth config; ``unreadable`` when a part was damaged."""
    applied, error, failures = raw
    one = Records(nanoid)
    version, at, created = one.parse(Keys.applied, applied_brief, applied, _NO_APPLIED)
    err_version, err_created = one.parse(Keys.last_error, error_brief, error, _NO_ERROR)
    return Brief(
        applied_version=version,
        applied_at=at,
        failures=one.parse(Keys.failures, failures_from, failures, 0),
        error_version=err_version,
        applied_created=created,
        error_created=err_created,
        unreadable=one.unreadable,
    )


def members(key: str, raw: Iterable[bytes]) -> set[str]:
    """A set's members as text; one that is not UTF-8 is no auth config's id: left out,
    logged (a pause entry written by hand, say)."""
    out = set()
    for member in raw:
        try:
            out.add(member.decode("utf-8"))
        except UnicodeDecodeError:
            log.warning("state.unreadable", key=key, problem="a member is not UTF-8 text")
    return out


def entries(
    key: str, raw: Iterable[tuple[bytes, Mapping[bytes, bytes] | None]]
) -> list[tuple[str, dict[str, str]]]:
    """A stream's entries (the audit trail, the dead letter) as text; one whose fields are not
    UTF-8 is left out, logged, and the others are read."""
    out = []
    for entry_id, fields in raw:
        try:
            text = {k.decode("utf-8"): v.decode("utf-8") for k, v in (fields or {}).items()}
        except UnicodeDecodeError:
            shown = entry_id.decode("ascii", errors="replace")[:40]
            log.warning("state.unreadable", key=key, entry_id=shown, problem="not UTF-8 text")
            continue
        out.append((entry_id.decode("ascii", errors="replace"), text))
    return out
