"""The emulator's state: auth configs in memory, merged, masked and listed like Composio does.

No I/O. One lock makes every operation atomic, so the HTTP thread and the test thread can share
a store. Concurrent PATCHes are last-write-wins, as on Composio (no ETag, no version field).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rotator.devkit.emulator.messages import (
    NOT_FOUND_CODE,
    NOT_FOUND_SLUG,
    VALIDATION_CODE,
    VALIDATION_SLUG,
    ApiError,
)
from rotator.devkit.emulator.validate import ListQuery, PatchRequest

__all__ = ["MAX_LIMIT", "AuthConfig", "Page", "Store", "mask"]

MAX_LIMIT = 200
DEFAULT_LIMIT = 20
READABLE = frozenset({"client_id", "consumer_key"})


@dataclass
class AuthConfig:
    id: str
    type: str
    toolkit: str
    name: str
    auth_scheme: str
    enabled: bool
    created_at: float
    updated_at: float
    credentials: dict[str, object] = field(default_factory=dict)
    shared_credentials: dict[str, object] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Page:
    items: list[dict[str, object]]
    next_cursor: str | None
    total_pages: int
    current_page: int
    total_items: int


class Store:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._configs: dict[str, AuthConfig] = {}

    def create(
        self,
        nanoid: str,
        *,
        type: str,
        toolkit: str,
        name: str,
        auth_scheme: str,
        enabled: bool,
        credentials: Mapping[str, object],
        shared_credentials: Mapping[str, object],
    ) -> None:
        """Add (or replace) one auth config, as if created on Composio's dashboard."""
        now = self._clock()
        cfg = AuthConfig(
            nanoid,
            type,
            toolkit,
            name,
            auth_scheme,
            enabled,
            now,
            now,
            dict(credentials),
            dict(shared_credentials),
        )
        with self._lock:
            self._configs[nanoid] = cfg

    def raw(self, nanoid: str) -> AuthConfig:
        """A copy of one config, secrets unmasked; ``KeyError`` if unknown."""
        with self._lock:
            return copy.deepcopy(self._configs[nanoid])

    def apply_patch(self, nanoid: str, patch: PatchRequest) -> None:
        """Merge a validated PATCH into one config: 404 if unknown, 400 on a type mismatch."""
        with self._lock:
            cfg = self._configs.get(nanoid)
            if cfg is None:
                raise ApiError(404, "Auth config not found", NOT_FOUND_SLUG, NOT_FOUND_CODE)
            # Our reading: a PATCH cannot switch a config between custom and default.
            if patch.type != cfg.type:
                raise ApiError(
                    400,
                    f"type: this auth config is of type {cfg.type}",
                    VALIDATION_SLUG,
                    VALIDATION_CODE,
                    errors=["type: mismatch"],
                )
            _merge(cfg.credentials, patch.credentials)
            # Undocumented whether shared_credentials merges or replaces; our reading: it
            # merges key by key like credentials.
            _merge(cfg.shared_credentials, patch.shared_credentials)
            cfg.name = str(patch.settings.get("name", cfg.name))
            cfg.settings.update({k: v for k, v in patch.settings.items() if k != "name"})
            cfg.updated_at = self._clock()

    def view(self, nanoid: str) -> dict[str, object]:
        """The masked JSON of ``GET /api/v3/auth_configs/{nanoid}``; 404 if unknown."""
        with self._lock:
            cfg = self._configs.get(nanoid)
            if cfg is None:
                raise ApiError(404, "Auth config not found", NOT_FOUND_SLUG, NOT_FOUND_CODE)
            return _view(cfg)

    def list_page(self, query: ListQuery) -> Page:
        """One page of ``GET /api/v3/auth_configs``, in creation order."""
        page, limit = decode_cursor(query.cursor) if query.cursor else (1, query.limit)
        limit = min(limit or DEFAULT_LIMIT, MAX_LIMIT)
        with self._lock:
            matched = [c for c in self._configs.values() if _matches(c, query)]
            items = [_view(c) for c in matched[(page - 1) * limit : page * limit]]
        pages = math.ceil(len(matched) / limit)
        more = page < pages
        return Page(
            items, encode_cursor(page + 1, limit) if more else None, pages, page, len(matched)
        )


def encode_cursor(page: int, limit: int) -> str:
    """Like Composio's: base64 of the page number and the page size."""
    raw = json.dumps({"page": page, "limit": limit}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        page, limit = int(data["page"]), int(data["limit"])
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise ApiError(400, "cursor: invalid", errors=["cursor: invalid"]) from None
    if page < 1 or limit < 1:
        raise ApiError(400, "cursor: invalid", errors=["cursor: invalid"])
    return page, limit


def _merge(target: dict[str, object], update: Mapping[str, object] | None) -> None:
    """Key-by-key merge: given keys are set, omitted keys kept, an explicit null removes a key
    (our reading: how Composio deletes one key is undocumented)."""
    for key, value in (update or {}).items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


def _matches(cfg: AuthConfig, query: ListQuery) -> bool:
    if not (cfg.enabled or query.show_disabled):
        return False
    if query.toolkits and cfg.toolkit.lower() not in query.toolkits:
        return False
    if query.managed is not None and (cfg.type == "default") != query.managed:
        return False
    return not query.search or query.search.lower() in cfg.name.lower()


def mask(values: Mapping[str, object]) -> dict[str, object]:
    """Secrets as Composio shows them on read: only ``client_id``/``consumer_key`` readable."""
    return {k: v if k in READABLE else _mask_one(v) for k, v in values.items()}


def _mask_one(value: object) -> object:
    if value is None or value == "":
        return value
    if isinstance(value, str) and len(value) >= 12:
        return value[:3] + "...***"
    return "***"


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def _view(cfg: AuthConfig) -> dict[str, object]:
    settings = cfg.settings
    out: dict[str, object] = {
        "id": cfg.id,
        "uuid": cfg.uuid,
        "type": cfg.type,
        "toolkit": {"slug": cfg.toolkit, "logo": f"https://logos.composio.dev/api/{cfg.toolkit}"},
        "name": cfg.name,
        "auth_scheme": cfg.auth_scheme,
        "is_composio_managed": cfg.type == "default",
        "credentials": mask(cfg.credentials),
        "shared_credentials": mask(cfg.shared_credentials),
        "status": "ENABLED" if cfg.enabled else "DISABLED",
        "created_by": "emulator",
        "created_at": _iso(cfg.created_at),
        "last_updated_at": _iso(cfg.updated_at),
        "no_of_connections": 0,
        "expected_input_fields": [],
        "restrict_to_following_tools": settings.get("restrict_to_following_tools", []),
        "tool_access_config": settings.get("tool_access_config")
        or {
            "tools_for_connected_account_creation": [],
            "tools_available_for_execution": [],
        },
        "deprecated_params": {"default_connector_id": None},
    }
    proxy = settings.get("proxy_config")
    if isinstance(proxy, dict):
        out["proxy_config"] = {
            "proxy_url": proxy.get("proxy_url"),
            **mask({k: v for k, v in proxy.items() if k != "proxy_url"}),
        }
    return out
