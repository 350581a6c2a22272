"""``rotator history``: the audit stream read newest first, as rows an operator can scan.

Pure: parsing ``--since``, turning stream entries into rows, and paging (the I/O is one
callable that returns a page of XREVRANGE). Audit entries carry IDs, versions and statuses,
never a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

__all__ = ["HistoryRow", "newest_rows", "parse_since", "row_from"]

Entry = tuple[str, dict[str, str]]
Page = Callable[[str, str, int], list[Entry]]  # (before, oldest, count) -> newest first

_SINCE = re.compile(r"(\d{1,7})([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PAGE = 500


def parse_since(raw: str) -> float:
    """``90s``, ``15m``, ``24h``, ``7d``, ``2w`` -> seconds; anything else is a ValueError."""
    m = _SINCE.fullmatch(raw.strip())
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"--since {raw!r}: expected a number and a unit s/m/h/d/w, e.g. 24h")
    return int(m.group(1)) * _UNIT[m.group(2)]


@dataclass(frozen=True)
class HistoryRow:
    id: str
    at: str  # ISO 8601 UTC, from the stream id
    auth_config_id: str
    outcome: str
    trigger: str
    vault_version: str | None
    http_status: str | None
    error_slug: str | None
    request_id: str | None
    reason: str | None
    error: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def row_from(entry_id: str, fields: dict[str, str]) -> HistoryRow:
    """One audit entry as a row; entries written before triggers were recorded say ``-``."""
    ms = int(entry_id.partition("-")[0])
    at = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return HistoryRow(
        id=entry_id,
        at=at,
        auth_config_id=fields.get("auth_config_id", "?"),
        outcome=fields.get("outcome", "?"),
        trigger=fields.get("trigger", "-"),
        vault_version=fields.get("vault_version"),
        http_status=fields.get("http_status"),
        error_slug=fields.get("error_slug"),
        request_id=fields.get("request_id"),
        reason=fields.get("reason"),
        error=fields.get("error"),
    )


def _entries(page: Page, oldest: str) -> Iterator[Entry]:
    before = "+"
    while True:
        batch = page(before, oldest, PAGE)
        yield from batch
        if len(batch) < PAGE:
            return
        before = "(" + batch[-1][0]  # exclusive: the next page starts below the last id


def newest_rows(
    page: Page, *, nanoid: str | None, since_s: float | None, now: float, limit: int
) -> list[HistoryRow]:
    """Up to ``limit`` rows, newest first, for one auth config (or all), within ``since_s``."""
    oldest = "-" if since_s is None else str(int((now - since_s) * 1000))
    rows: list[HistoryRow] = []
    for entry_id, fields in _entries(page, oldest):
        if nanoid is None or fields.get("auth_config_id") == nanoid:
            rows.append(row_from(entry_id, fields))
            if len(rows) >= limit:
                break
    return rows
