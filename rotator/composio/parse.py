"""Turn one Composio answer, or the lack of one, into a ``ResponseInfo`` (defensively), and a
final retry decision into the exception the caller sees.

Composio error bodies come as the envelope ``{"error": {"message", "code", "slug", "status",
"request_id", "suggested_fix", "errors"}}``, as bare objects (``{"message": "Rate limit
exceeded..."}``, ``{"code": 10429, "slug": "HTTP_TooManyRequests"}``), empty, as HTML from a
proxy, cut off, or as JSON of the wrong shape. Nothing here raises on any of them: a field that
is missing or of the wrong type is None, and a body that says nothing usable is described (its
kind and size, never its text). A body is read by ``rotator.composio.body``: at most
``BODY_LIMIT`` bytes (the caller may allow more), counted on the wire and after decoding.

Composio may echo what it was sent. Every text field is masked of the values just sent (the
request's credential values and its API key, in every encoded form ``observability.redaction``
knows) before anything else touches it (collapsing whitespace, trimming); a slug or request id
that is, or holds, such a value is dropped, and so is one not shaped like a slug
(``Service_Name``) or a request id. So nothing downstream (Redis, streams, logs, the CLI) can
store or print an echo, even a process that never saw the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx

from rotator.composio.body import read_body
from rotator.core.errors import ComposioRejected, ComposioUnavailable
from rotator.core.models import Decision, Payload, ResponseInfo, RetryAction, Secret
from rotator.core.retry import parse_retry_after
from rotator.observability.redaction import Echoes

__all__ = [
    "BODY_LIMIT",
    "MESSAGE_LIMIT",
    "Answer",
    "final_error",
    "inspect_response",
    "json_object",
    "parse_response",
    "secret_values",
    "sent_values",
    "transport_failure",
    "unreadable",
]

BODY_LIMIT = 64 * 1024
MESSAGE_LIMIT = 300
_MEDIA_TYPE = re.compile(r"[\w!#$&^.+-]{1,64}/[\w!#$&^.+-]{1,64}", re.ASCII)
_SLUG = re.compile(r"[A-Za-z][A-Za-z0-9]{0,31}_[A-Za-z0-9_]{1,63}", re.ASCII)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
_AUTH_HEADERS = ("x-api-key", "x-user-api-key", "authorization")
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


@dataclass(frozen=True)
class Answer:
    """One exchange: what the retry policy sees, the body (capped), and why the body cannot be
    used (``note``). ``unread``: the body itself could not be read whole (over the cap, an
    encoding refused, cut off), as opposed to read whole but not what was expected."""

    info: ResponseInfo
    raw: bytes = b""
    note: str | None = None
    unread: bool = False


def transport_failure(exc: httpx.HTTPError, *, deadline: float | None = None) -> ResponseInfo:
    """No (whole) HTTP answer: the connection failed, timed out, or broke mid-exchange.
    ``deadline``: the call's overall deadline in seconds, when that is what passed."""
    if isinstance(exc, httpx.TimeoutException):
        failure = "timeout" if deadline is None else f"timeout after {deadline:g} s"
        return ResponseInfo(status=None, failure=failure)
    if isinstance(exc, httpx.ConnectError):
        return ResponseInfo(status=None, failure="connect")
    return ResponseInfo(status=None, failure="protocol")


def json_object(raw: bytes) -> dict[str, object] | None:
    """The body as a JSON object, or None when it is anything else (or no JSON at all)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _text(value: object, echoes: Echoes) -> str | None:
    """A string field, echoes masked, then on one line and trimmed to ``MESSAGE_LIMIT``."""
    if not isinstance(value, str):
        return None
    flat = echoes.mask(" ".join(echoes.mask(value).split()))
    if not flat:
        return None
    return flat if len(flat) <= MESSAGE_LIMIT else flat[: MESSAGE_LIMIT - 3] + "..."


def _shaped(value: object, shape: re.Pattern[str], echoes: Echoes) -> str | None:
    """``value`` if it has ``shape`` and is no echo of a value sent, else None (dropped)."""
    if not isinstance(value, str) or not shape.fullmatch(value) or echoes.touches(value):
        return None
    return value


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


def _message(fields: Mapping[str, object], echoes: Echoes) -> str | None:
    message = fields.get("message")
    errors = fields.get("errors")
    details = [e for e in errors if isinstance(e, str)][:3] if isinstance(errors, list) else []
    parts = [p for p in (message if isinstance(message, str) else None, *details) if p]
    return _text("; ".join(echoes.mask(p) for p in parts), echoes)


def _describe(raw: bytes, content_type: str, echoes: Echoes) -> str:
    if not raw.strip():
        return "empty body"
    media = _shaped(content_type.partition(";")[0].strip(), _MEDIA_TYPE, echoes)
    kind = media.lower() if media else "no content type"
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return f"body is not JSON ({kind}, {len(raw)} bytes)"
    return f"JSON body is {type(data).__name__}, not an object"


def _body(raw: bytes, content_type: str, echoes: Echoes) -> _Body:
    data = json_object(raw)
    if data is None:
        return _Body(problem=_describe(raw, content_type, echoes))
    error = data.get("error")
    fields: Mapping[str, object] = error if isinstance(error, dict) else data
    return _Body(
        slug=_shaped(fields.get("slug"), _SLUG, echoes),
        code=_int(fields.get("code")),
        message=_message(fields, echoes) or _text(error, echoes),
        request_id=_shaped(fields.get("request_id"), _REQUEST_ID, echoes),
        suggested_fix=_text(fields.get("suggested_fix"), echoes),
    )


def _should_retry(value: str | None) -> bool | None:
    return {"true": True, "false": False}.get((value or "").strip().lower())


def _window(value: str | None) -> float | None:
    match = _WINDOW.fullmatch((value or "").strip())
    if match is None:
        return None
    return float(match.group(1)) * _UNIT[(match.group(2) or "s").lower()]


def sent_values(request: httpx.Request) -> list[str]:
    """What a request carried that Composio must not echo: its API key (auth headers) and the
    string values of ``credentials`` and ``shared_credentials`` in its JSON body."""
    values = [request.headers[h] for h in _AUTH_HEADERS if h in request.headers]
    try:
        body = json.loads(request.content) if request.content else None
    except (httpx.RequestNotRead, ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        for name in ("credentials", "shared_credentials"):
            section = body.get(name)
            if isinstance(section, dict):
                values += [v for v in section.values() if isinstance(v, str)]
    return values


def _request_values(response: httpx.Response) -> list[str]:
    try:
        return sent_values(response.request)
    except RuntimeError:  # a Response built by hand has no request
        return []


def inspect_response(
    response: httpx.Response,
    *,
    now: datetime,
    limit: int = BODY_LIMIT,
    sent: Iterable[str] | None = None,
) -> Answer:
    """``parse_response``, the body (``limit`` bytes at most) and why it is unusable, if it is.

    ``sent``: the values whose echoes are masked or dropped; by default ``sent_values`` of the
    request that got this answer. A timeout while reading the body is raised (httpx's)."""
    echoes = Echoes.of(_request_values(response) if sent is None else sent)
    read = read_body(response, limit)
    if read.problem is None:
        body = _body(read.raw, response.headers.get("content-type", ""), echoes)
    else:
        body = _Body(problem=read.problem)
    headers = response.headers
    info = ResponseInfo(
        status=response.status_code,
        slug=body.slug,
        code=body.code,
        message=body.message or body.problem,
        request_id=_shaped(headers.get("x-request-id"), _REQUEST_ID, echoes) or body.request_id,
        suggested_fix=body.suggested_fix,
        retry_after=parse_retry_after(headers, now=now),
        should_retry=_should_retry(headers.get("x-should-retry")),
        rate_limit=_int(headers.get("x-ratelimit")),
        rate_remaining=_int(headers.get("x-ratelimit-remaining")),
        rate_window=_window(headers.get("x-ratelimit-window-size")),
    )
    return Answer(info, read.raw, body.problem, unread=read.problem is not None)


def parse_response(
    response: httpx.Response, *, now: datetime, sent: Iterable[str] | None = None
) -> ResponseInfo:
    """Status, slug, code, trimmed message, request id, retry and rate-limit headers."""
    return inspect_response(response, now=now, sent=sent).info


def secret_values(payload: Payload) -> list[str]:
    """The revealed credential values of a payload: to scrub from Composio's messages."""
    sections = (payload.credentials or {}, payload.shared_credentials or {})
    return [v.reveal() for s in sections for v in s.values() if isinstance(v, Secret)]


def final_error(
    decision: Decision, info: ResponseInfo, nanoid: str, attempts: int, secrets: list[str]
) -> ComposioUnavailable | ComposioRejected:
    """The exception for a final decision; the API's message is trimmed and scrubbed (again:
    ``info`` was masked when parsed, this also covers a ``ResponseInfo`` built elsewhere)."""
    echoes = Echoes.of(secrets)
    if info.status is None:
        head = f"Composio did not answer for {nanoid}: {info.failure}"
    else:
        slug = f" {info.slug}" if info.slug else ""
        message = echoes.mask(info.message) if info.message else None
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
    fix = echoes.mask(info.suggested_fix) if info.suggested_fix else None
    return ComposioRejected(head, info.status, info.slug, info.request_id, fix, attempts=attempts)


def unreadable(answer: Answer, what: str, attempts: int) -> ComposioUnavailable:
    """A GET's 2xx whose body could not be read whole (over the cap, an encoding refused, cut
    off) is transient: the request did not fail, a proxy or a blip may have spoiled the answer,
    and a 2xx must not be dead-lettered at once (repeated, it exhausts the retries like any
    outage). A PATCH's is unverified instead (``client.update_auth_config``)."""
    info = answer.info
    return ComposioUnavailable(
        f"Composio answered {info.status} {what} with a body it could not read: {answer.note}",
        None,
        info.status,
        None,
        info.request_id,
        attempts=attempts,
    )
