"""``rotator inventory``: Composio's own list of auth configs against rotator's bindings.

Read-only. Every page of ``GET /api/v3/auth_configs?show_disabled=true`` is fetched through the
one Composio client (so it is throttled by, and counted in, the shared rate limit) by following
``next_cursor``. The list answer is untrusted: a page that is not an object or whose ``items``
is not a list, a cursor that repeats (a loop) or more than ``MAX_PAGES`` pages stop the listing
with ``InventoryError`` (one line; nothing is classified from a partial list, since a missing
page would make bound auth configs look missing). An item without a usable ``id`` is skipped and
named in ``problems``; an unknown ``status`` or an unreadable ``last_updated_at`` is shown as
``None`` rather than trusted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from rotator.core.errors import RotatorError

__all__ = [
    "MAX_PAGES",
    "Inventory",
    "InventoryError",
    "Listed",
    "PageLister",
    "classify",
    "list_all",
    "parse_page",
]

MAX_PAGES = 1000  # 200 000 auth configs at the largest page size Composio has used
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)?")
_STATUSES = frozenset({"ENABLED", "DISABLED"})
_CURSOR_MAX = 4096


class InventoryError(RotatorError):
    """Composio's list could not be read completely; nothing was classified."""


class PageLister(Protocol):
    def list_auth_configs(self, cursor: str | None = None) -> object: ...


@dataclass(frozen=True)
class Listed:
    """One auth config as Composio's list shows it (only fields rotator checks)."""

    id: str
    status: str | None  # ENABLED / DISABLED, None if Composio sent anything else
    last_updated_at: str | None
    toolkit: str | None


@dataclass(frozen=True)
class Page:
    items: list[Listed]
    next_cursor: str | None
    problems: list[str]


@dataclass(frozen=True)
class Inventory:
    managed: list[tuple[Listed, str]]  # (Composio's view, the Vault path rotator reads)
    missing: list[tuple[str, str]]  # (bound nanoid, Vault path): Composio does not have it
    unmanaged: list[Listed]  # on Composio, no Vault secret manages it
    pages: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing

    def as_dict(self) -> dict[str, object]:
        def one(item: Listed, path: str | None = None) -> dict[str, object]:
            row: dict[str, object] = {
                "auth_config_id": item.id,
                "status": item.status,
                "last_updated_at": item.last_updated_at,
                "toolkit": item.toolkit,
            }
            return row if path is None else {**row, "vault_path": path}

        return {
            "managed": [one(item, path) for item, path in self.managed],
            "missing": [{"auth_config_id": n, "vault_path": p} for n, p in self.missing],
            "unmanaged": [one(item) for item in self.unmanaged],
            "pages": self.pages,
            "problems": self.problems,
        }


def _text(value: object, shape: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and shape.fullmatch(value) else None


def _item(raw: object, where: str) -> Listed | str:
    if not isinstance(raw, dict):
        return f"{where}: an item that is not an object"
    nanoid = _text(raw.get("id"), _ID)
    if nanoid is None:
        return f"{where}: an item without a usable id"
    status = raw.get("status")
    toolkit = raw.get("toolkit")
    slug = toolkit.get("slug") if isinstance(toolkit, dict) else None
    return Listed(
        id=nanoid,
        status=status if isinstance(status, str) and status in _STATUSES else None,
        last_updated_at=_text(raw.get("last_updated_at"), _TIME),
        toolkit=_text(slug, _ID),
    )


def parse_page(data: object, number: int) -> Page:
    """One list answer: its items, the next cursor and what was wrong with single items."""
    where = f"page {number}"
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise InventoryError(f"Composio's auth config list, {where}: no 'items' list")
    cursor = data.get("next_cursor")
    if cursor is not None and not (isinstance(cursor, str) and 0 < len(cursor) <= _CURSOR_MAX):
        raise InventoryError(f"Composio's auth config list, {where}: a malformed next_cursor")
    items, problems = [], []
    for raw in data["items"]:
        parsed = _item(raw, where)
        if isinstance(parsed, str):
            problems.append(parsed)
        else:
            items.append(parsed)
    return Page(items, cursor or None, problems)


def list_all(
    client: PageLister, *, max_pages: int = MAX_PAGES
) -> tuple[list[Listed], int, list[str]]:
    """Every page, following ``next_cursor``: (items, pages read, problems)."""
    items: dict[str, Listed] = {}
    problems: list[str] = []
    seen: set[str] = set()
    cursor: str | None = None
    for number in range(1, max_pages + 1):
        page = parse_page(client.list_auth_configs(cursor), number)
        problems += page.problems
        for item in page.items:
            if item.id in items:
                problems.append(f"page {number}: {item.id} listed twice")
            items[item.id] = item
        if page.next_cursor is None:
            return list(items.values()), number, problems
        if page.next_cursor in seen:
            raise InventoryError(
                f"Composio's auth config list, page {number}: next_cursor repeats an earlier "
                "one (a loop); stopped"
            )
        seen.add(page.next_cursor)
        cursor = page.next_cursor
    raise InventoryError(f"Composio's auth config list has more than {max_pages} pages; stopped")


def classify(
    listed: Iterable[Listed], bound: Mapping[str, str], *, pages: int, problems: list[str]
) -> Inventory:
    """Split into managed, missing (bound, not on Composio) and unmanaged (nobody rotates)."""
    by_id = {item.id: item for item in listed}
    return Inventory(
        managed=[(by_id[n], path) for n, path in sorted(bound.items()) if n in by_id],
        missing=[(n, path) for n, path in sorted(bound.items()) if n not in by_id],
        unmanaged=[by_id[n] for n in sorted(by_id) if n not in bound],
        pages=pages,
        problems=problems,
    )
