"""Strict validation of request bodies and query strings, as Composio's schema checks do.

Every problem is collected and answered in one 400; messages name fields, never values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rotator.devkit.emulator.messages import VALIDATION_CODE, VALIDATION_SLUG, ApiError

__all__ = [
    "NOT_JSON",
    "ListQuery",
    "PatchRequest",
    "decode_json",
    "parse_list_query",
    "require_json",
    "validate_patch",
]

# The PATCH fields Composio documents per type. ``restrict_to_following_tools`` (deprecated)
# is in the spec for both types. ``credentials`` is optional for ``custom`` (a known delta from
# the spec, which still lists it as required).
CUSTOM_FIELDS = frozenset(
    {
        "type",
        "credentials",
        "shared_credentials",
        "name",
        "proxy_config",
        "tool_access_config",
        "is_enabled_for_tool_router",
        "restrict_to_following_tools",
    }
)
DEFAULT_FIELDS = frozenset(
    {
        "type",
        "shared_credentials",
        "scopes",
        "user_scopes",
        "name",
        "tool_access_config",
        "restrict_to_following_tools",
    }
)
ALLOWED = {"custom": CUSTOM_FIELDS, "default": DEFAULT_FIELDS}
SECTIONS = ("credentials", "shared_credentials")


@dataclass(frozen=True)
class PatchRequest:
    """A validated PATCH: the two credential sections to merge, the other fields to set."""

    type: str
    credentials: dict[str, object] | None
    shared_credentials: dict[str, object] | None
    settings: dict[str, object]


NOT_JSON = object()  # stands for a body that is empty or not JSON


def decode_json(body: bytes) -> object:
    """The decoded body, or ``NOT_JSON``."""
    try:
        return json.loads(body) if body else NOT_JSON
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return NOT_JSON


def require_json(body: object, content_type: str) -> object:
    """``body`` (from ``decode_json``), or a 400 when the request did not carry JSON."""
    if not content_type.lower().startswith("application/json"):
        raise ApiError(400, "Content-Type must be application/json")
    if body is NOT_JSON:
        raise ApiError(400, "Request body is not valid JSON")
    return body


def validate_patch(body: object) -> PatchRequest:
    """A ``PatchRequest`` from a decoded PATCH body, or one 400 listing every problem."""
    if not isinstance(body, dict):
        raise _invalid(["body: must be a JSON object"])
    if "auth_config" in body:
        raise _invalid(
            ["auth_config: unknown field; the PATCH body is flat (the wrapper belongs to POST)"],
            fix='Send {"type": "custom", "credentials": {...}} at the top level.',
        )
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in ALLOWED:
        problem = "type: required" if "type" not in body else "type: must be custom or default"
        raise _invalid([problem])
    problems = _field_problems(body, str(kind))
    if problems:
        raise _invalid(problems)
    return PatchRequest(
        type=str(kind),
        credentials=_section(body, "credentials"),
        shared_credentials=_section(body, "shared_credentials"),
        settings={k: v for k, v in body.items() if k not in (*SECTIONS, "type")},
    )


def _section(body: Mapping[str, object], name: str) -> dict[str, object] | None:
    value = body.get(name)
    return dict(value) if isinstance(value, dict) else None


def _invalid(problems: list[str], fix: str | None = None) -> ApiError:
    return ApiError(
        400,
        "Invalid request body: " + problems[0],
        slug=VALIDATION_SLUG,
        code=VALIDATION_CODE,
        errors=problems,
        suggested_fix=fix,
    )


def _field_problems(body: Mapping[str, object], kind: str) -> list[str]:
    problems = []
    for name in sorted(body):
        if name not in ALLOWED[kind]:
            known = name in CUSTOM_FIELDS
            problems.append(
                f"{name}: not allowed when type is {kind}" if known else f"{name}: unknown field"
            )
        elif name in _CHECKS and not _CHECKS[name](body[name]):
            problems.append(f"{name}: {_EXPECTED[name]}")
    for section in SECTIONS:
        value = body.get(section)
        if isinstance(value, dict):
            problems += [
                f"{section}.{k}: must be a string or a list of strings"
                for k in ("scopes", "user_scopes")
                if k in value and not _scopes(value[k])
            ]
    return problems


@dataclass(frozen=True)
class ListQuery:
    """The query of ``GET /api/v3/auth_configs``."""

    cursor: str | None
    limit: int | None
    show_disabled: bool
    toolkits: frozenset[str]
    search: str | None
    managed: bool | None


def parse_list_query(query: Mapping[str, str]) -> ListQuery:
    """A ``ListQuery`` from the query string, or a 400 naming the bad parameter."""
    toolkits = query.get("toolkit_slug") or ""
    return ListQuery(
        cursor=query.get("cursor") or None,
        limit=_limit(query.get("limit")),
        show_disabled=bool(_flag(query, "show_disabled")),
        toolkits=frozenset(t.strip().lower() for t in toolkits.split(",") if t.strip()),
        search=query.get("search") or None,
        managed=_flag(query, "is_composio_managed"),
    )


def _limit(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value.is_integer() or value < 1:
        raise ApiError(400, "limit: must be a positive integer", errors=["limit: invalid"])
    return int(value)


def _flag(query: Mapping[str, str], name: str) -> bool | None:
    raw = (query.get(name) or "").lower()
    if raw in ("", "null"):
        return None
    if raw not in ("true", "false"):
        raise ApiError(400, f"{name}: must be true or false", errors=[f"{name}: invalid"])
    return raw == "true"


def _str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _scopes(value: object) -> bool:
    return value is None or isinstance(value, str) or _str_list(value)


def _proxy(value: object) -> bool:
    return value is None or (isinstance(value, dict) and isinstance(value.get("proxy_url"), str))


def _tool_access(value: object) -> bool:
    keys = {"tools_for_connected_account_creation", "tools_available_for_execution"}
    return isinstance(value, dict) and set(value) <= keys and all(map(_str_list, value.values()))


_CHECKS: dict[str, Callable[[object], bool]] = {
    "credentials": lambda v: isinstance(v, dict),
    "shared_credentials": lambda v: isinstance(v, dict),
    "name": lambda v: isinstance(v, str),
    "proxy_config": _proxy,
    "tool_access_config": _tool_access,
    "is_enabled_for_tool_router": lambda v: isinstance(v, bool),
    "restrict_to_following_tools": _str_list,
    "scopes": _scopes,
    "user_scopes": _scopes,
}
_EXPECTED = {
    "credentials": "must be an object",
    "shared_credentials": "must be an object",
    "name": "must be a string",
    "proxy_config": "must be an object with a string proxy_url, or null",
    "tool_access_config": "must be an object of tool-name lists",
    "is_enabled_for_tool_router": "must be a boolean",
    "restrict_to_following_tools": "must be a list of strings",
    "scopes": "must be a string or a list of strings",
    "user_scopes": "must be a string or a list of strings",
}
