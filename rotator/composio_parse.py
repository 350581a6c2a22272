"""Turn one Composio answer, or the lack of one, into a ``ResponseInfo`` (defensively), and a
final retry decision into the exception the caller sees.

Composio error bodies come as the envelope ``{"error": {"message", "code", "slug", "status",
"request_id", "suggested_fix", "errors"}}``, as bare objects (``{"message": "Rate limit
exceeded..."}``, ``{"code": 10429, "slug": "HTTP_TooManyRequests"}``), empty, as HTML from a
proxy, cut off, or as JSON of the wrong shape. Nothing here raises on any of them: a field that
is missing or of the wrong type is None, and a body that says nothing usable is described (its
kind and size, never its text). Only the first ``BODY_LIMIT`` bytes of a body are ever read.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx

from rotator.errors import ComposioRejected, ComposioUnavailable
from rotator.models import Decision, Payload, ResponseInfo, RetryAction, Secret
from rotator.policy import parse_retry_after

__all__ = [
    "BODY_LIMIT",
    "MESSAGE_LIMIT",
    "final_error",
    "inspect_response",
    "json_object",
    "parse_response",
    "read_head",
    "secret_values",
    "transport_failure",
]

BODY_LIMIT = 64 * 1024
MESSAGE_LIMIT = 300
_TOKEN = re.compile(r"[\w.:/-]{1,200}")
_WINDOW = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)?", re.IGNORECASE)
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class _Body:
    slug: str | None = None
    code: int | None = None
    message: str | None = None
    request_id: str | None = None
    suggested_fix: str | None = None
    problem: str | None = None


def transport_failure(exc: httpx.HTTPError) -> ResponseInfo:
    """No (whole) HTTP answer: the connection failed, timed out, or broke mid-exchange."""
    if isinstance(exc, httpx.TimeoutException):
        return ResponseInfo(status=None, failure="timeout")
    if isinstance(exc, httpx.ConnectError):
        return ResponseInfo(status=None, failure="connect")
    return ResponseInfo(status=None, failure="protocol")


def read_head(
    response: httpx.Response, limit: int = BODY_LIMIT, deadline: float | None = None
) -> tuple[bytes, str | None]:
    """At most ``limit`` bytes of the body, read until ``deadline`` (``time.monotonic()``), and
    a note if reading stopped part way. httpx's timeout is per socket read: without a deadline
    a body dripped slowly enough would hold the call (and the auth config's lock) forever."""
    try:
        return response.content[:limit], None
    except httpx.ResponseNotRead:
        pass
    buf = bytearray()
    try:
        for chunk in response.iter_bytes():
            buf += chunk
            if len(buf) >= limit:
                break
            if deadline is not None and time.monotonic() > deadline:
                return bytes(buf[:limit]), "body cut off (slower than the Composio timeout)"
    except httpx.HTTPError as exc:
        return bytes(buf[:limit]), f"body cut off ({type(exc).__name__})"
    return bytes(buf[:limit]), None


def json_object(raw: bytes) -> dict[str, object] | None:
    """The body as a JSON object, or None when it is anything else (or no JSON at all)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _text(value: object) -> str | None:
    """A string field, on one line and trimmed to ``MESSAGE_LIMIT`` characters."""
    if not isinstance(value, str):
        return None
    flat = " ".join(value.split())
    if not flat:
        return None
    return flat if len(flat) <= MESSAGE_LIMIT else flat[: MESSAGE_LIMIT - 3] + "..."


def _token(value: object) -> str | None:
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    return None


def _message(fields: Mapping[str, object]) -> str | None:
    message = fields.get("message")
    errors = fields.get("errors")
    details = [e for e in errors if isinstance(e, str)][:3] if isinstance(errors, list) else []
    parts = [p for p in (message if isinstance(message, str) else None, *details) if p]
    return _text("; ".join(parts))


def _describe(raw: bytes, content_type: str) -> str:
    if not raw.strip():
        return "empty body"
    kind = _token(content_type.partition(";")[0].strip()) or "no content type"
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return f"body is not JSON ({kind}, {len(raw)} bytes)"
    return f"JSON body is {type(data).__name__}, not an object"


def _body(raw: bytes, content_type: str) -> _Body:
    data = json_object(raw)
    if data is None:
        return _Body(problem=_describe(raw, content_type))
    error = data.get("error")
    fields: Mapping[str, object] = error if isinstance(error, dict) else data
    return _Body(
        slug=_token(fields.get("slug")),
        code=_int(fields.get("code")),
        message=_message(fields) or _text(error),
        request_id=_token(fields.get("request_id")),
        suggested_fix=_text(fields.get("suggested_fix")),
    )


def _should_retry(value: str | None) -> bool | None:
    return {"true": True, "false": False}.get((value or "").strip().lower())


def _window(value: str | None) -> float | None:
    match = _WINDOW.fullmatch((value or "").strip())
    if match is None:
        return None
    return float(match.group(1)) * _UNIT[(match.group(2) or "s").lower()]


def inspect_response(
    response: httpx.Response,
    *,
    now: datetime,
    limit: int = BODY_LIMIT,
    deadline: float | None = None,
) -> tuple[ResponseInfo, str | None, bytes]:
    """``parse_response``, a note when the body was unusable, and the body (``limit`` bytes)."""
    raw, cut = read_head(response, limit, deadline)
    body = _body(raw, response.headers.get("content-type", ""))
    headers = response.headers
    info = ResponseInfo(
        status=response.status_code,
        slug=body.slug,
        code=body.code,
        message=body.message or body.problem,
        request_id=_token(headers.get("x-request-id")) or body.request_id,
        suggested_fix=body.suggested_fix,
        retry_after=parse_retry_after(headers, now=now),
        should_retry=_should_retry(headers.get("x-should-retry")),
        rate_limit=_int(headers.get("x-ratelimit")),
        rate_remaining=_int(headers.get("x-ratelimit-remaining")),
        rate_window=_window(headers.get("x-ratelimit-window-size")),
    )
    return info, cut or body.problem, raw


def parse_response(response: httpx.Response, *, now: datetime) -> ResponseInfo:
    """Status, slug, code, trimmed message, request id, retry and rate-limit headers."""
    return inspect_response(response, now=now)[0]


def secret_values(payload: Payload) -> list[str]:
    """The revealed credential values of a payload: to scrub from Composio's messages."""
    sections = (payload.credentials or {}, payload.shared_credentials or {})
    return [v.reveal() for s in sections for v in s.values() if isinstance(v, Secret)]


def _scrub(text: str | None, secrets: Iterable[str]) -> str | None:
    """Mask each secret, and a secret's head left at the end of a message trimmed with '...'."""
    if not text:
        return text
    for value in filter(None, secrets):
        text = text.replace(value, "***")
        if text.endswith("..."):
            body = text[:-3]
            heads = (n for n in range(len(value) - 1, 3, -1) if body.endswith(value[:n]))
            if cut := next(heads, 0):
                text = body[:-cut] + "***..."
    return text


def final_error(
    decision: Decision, info: ResponseInfo, nanoid: str, attempts: int, secrets: list[str]
) -> ComposioUnavailable | ComposioRejected:
    """The exception for a final decision; the API's message is trimmed and scrubbed."""
    if info.status is None:
        head = f"Composio did not answer for {nanoid}: {info.failure}"
    else:
        slug = f" {info.slug}" if info.slug else ""
        message = _scrub(info.message, secrets)
        head = f"Composio answered {info.status}{slug} for {nanoid}" + (
            f": {message}" if message else ""
        )
    head += f" (request {info.request_id})" if info.request_id else ""
    if decision.action is RetryAction.RETRY_LATER:
        text = f"{head}; retry later after {attempts} attempt(s): "
        wait = decision.delay if info.retry_after is not None else None
        return ComposioUnavailable(
            text + decision.reason, wait, info.status, info.slug, info.request_id, attempts=attempts
        )
    fix = _scrub(info.suggested_fix, secrets)
    return ComposioRejected(head, info.status, info.slug, info.request_id, fix, attempts=attempts)
