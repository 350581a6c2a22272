"""The journal: one entry per API request the emulator saw, for test assertions.

Entries hold field NAMES, never values, so a journal can be printed or logged safely.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Journal", "JournalEntry", "field_names"]


@dataclass(frozen=True)
class JournalEntry:
    """One API request: what came in, what went out (``status`` None: dropped or hung)."""

    time: float
    method: str
    path: str
    nanoid: str | None
    status: int | None
    request_id: str
    fields: dict[str, list[str]]  # field names per credential section, like Payload.field_names
    fault: str | None
    auth_header: str | None  # "x-api-key", "x-user-api-key", both joined by "+", or None
    body_keys: tuple[str, ...] = ()  # top-level body field names
    applied: bool = False  # whether the request changed the stored config


def field_names(body: object) -> tuple[dict[str, list[str]], tuple[str, ...]]:
    """Field names per section, and the top-level names, of a decoded JSON body."""
    if not isinstance(body, dict):
        return {}, ()
    sections = {
        name: sorted(body[name])
        for name in ("credentials", "shared_credentials")
        if isinstance(body.get(name), dict)
    }
    return sections, tuple(sorted(body))


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[JournalEntry] = []

    def add(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
