"""Composio's auth-config endpoints: faults, auth, rate limit, routing and the journal.

Order per request: a queued or random fault may replace the answer (skipping the rest unless
it has ``apply``); otherwise auth (401), the rate limit (429), then the route. Bodies are
validated before the auth config is looked up, so a bad body on an unknown id is a 400.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from rotator.devkit.emulator.backend import AUTH_HEADERS, Backend
from rotator.devkit.emulator.faults import Fault
from rotator.devkit.emulator.journal import JournalEntry, field_names
from rotator.devkit.emulator.messages import (
    JSON,
    ApiError,
    Reply,
    Request,
    Response,
    error_response,
    http_code,
    http_slug,
    json_response,
    reason_phrase,
)
from rotator.devkit.emulator.ratelimit import RateState
from rotator.devkit.emulator.validate import (
    decode_json,
    parse_list_query,
    require_json,
    validate_patch,
)

__all__ = ["handle_api"]

_PREFIXES = ("/api/v3/auth_configs", "/api/v3.1/auth_configs")
_UPDATED = {"success": True, "message": "Auth config updated successfully"}
RATE_LIMITED = "Rate limit exceeded. Please retry after the time given in Retry-After."


@dataclass(frozen=True)
class Route:
    nanoid: str | None  # None: the collection


def match(path: str) -> Route | None:
    for prefix in _PREFIXES:
        rest = path[len(prefix) :] if path.startswith(prefix) else None
        if rest in ("", "/"):
            return Route(None)
        if rest and rest[0] == "/" and "/" not in rest[1:]:
            return Route(rest[1:])
    return None


def handle_api(backend: Backend, req: Request, rid: str) -> Reply:
    """Answer one request under ``/api/`` and record it in the journal."""
    route = match(req.path)
    nanoid = route.nanoid if route else None
    fault = backend.faults.pick(nanoid, req.method)
    body = decode_json(req.body)
    normal, applied = None, False
    if fault is None or fault.processes_request:
        normal, applied = _process(backend, req, route, body, rid)
    reply = Reply(normal) if fault is None else fault_reply(fault, normal, rid)
    sections, keys = field_names(body)
    used = "+".join(h for h in AUTH_HEADERS if h in req.headers) or None
    status = reply.response.status if reply.response and not reply.drop else None
    label = fault.label if fault else None
    backend.journal.add(
        JournalEntry(
            backend.clock(),
            req.method,
            req.path,
            nanoid,
            status,
            rid,
            sections,
            label,
            used,
            keys,
            applied,
        )
    )
    return reply


def _process(
    backend: Backend, req: Request, route: Route | None, body: object, rid: str
) -> tuple[Response, bool]:
    try:
        _authenticate(backend, req)
    except ApiError as exc:
        return _finish(error_response(exc, rid), backend.limiter.peek(), rid), False
    state = backend.limiter.take()
    if state is not None and state.retry_after is not None:
        return _finish(json_response(429, {"message": RATE_LIMITED}), state, rid), False
    try:
        response, applied = _dispatch(backend, req, route, body)
    except ApiError as exc:
        response, applied = error_response(exc, rid), False
    return _finish(response, state, rid), applied


def _finish(response: Response, state: RateState | None, rid: str) -> Response:
    extra = (("x-request-id", rid),)
    return response.with_headers(extra + state.headers() if state else extra)


def _authenticate(backend: Backend, req: Request) -> None:
    given = [h for h in AUTH_HEADERS if h in req.headers]
    if len(given) > 1:
        raise ApiError(401, "Send exactly one of x-api-key and x-user-api-key, not both")
    if not given:
        raise ApiError(401, "Missing API key", suggested_fix="Send the x-api-key header.")
    if req.headers[given[0]] not in backend.api_keys:
        raise ApiError(401, f"Invalid API key in {given[0]}")


def _dispatch(
    backend: Backend, req: Request, route: Route | None, body: object
) -> tuple[Response, bool]:
    if route is None:
        raise ApiError(404, f"No route for {req.method} {req.path}")
    if route.nanoid is None and req.method == "GET":
        page = backend.store.list_page(parse_list_query(req.query))
        return json_response(200, asdict(page)), False
    if route.nanoid is not None and req.method == "GET":
        return json_response(200, backend.store.view(route.nanoid)), False
    if route.nanoid is not None and req.method == "PATCH":
        patch = validate_patch(require_json(body, req.headers.get("content-type", "")))
        backend.store.apply_patch(route.nanoid, patch)
        return json_response(200, _UPDATED), True
    raise ApiError(405, f"Method {req.method} is not emulated on this path")


def fault_reply(fault: Fault, normal: Response | None, rid: str) -> Reply:
    """The reply for a faulted request; ``normal`` is the real answer when it was processed."""
    if fault.drop or fault.hang:
        return Reply(None, delay=fault.delay, drop=fault.drop, hang=fault.hang)
    if normal is None or fault.replaces_answer:
        normal = fault_response(fault, rid)
    return Reply(normal.with_headers(_fault_headers(fault)), delay=fault.delay, drip=fault.drip)


def fault_response(fault: Fault, rid: str) -> Response:
    status = fault.status or 200
    slug = fault.slug or http_slug(status)
    if fault.body is not None:
        body = fault.body
    elif fault.body_shape == "code_only":  # the documented 429 variant with no headers at all
        body = json.dumps({"code": http_code(status), "slug": slug}).encode()
        return Response(status, body, (("content-type", fault.content_type or JSON),))
    elif fault.body_shape == "message":
        message = RATE_LIMITED if status == 429 else reason_phrase(status)
        body = json.dumps({"message": message}).encode()
    elif status < 400:
        body = json.dumps(_UPDATED).encode()
    else:
        error = ApiError(status, f"{reason_phrase(status)} (injected)", slug)
        body = json.dumps(error.envelope(rid)).encode()
    return Response(
        status, body, (("content-type", fault.content_type or JSON), ("x-request-id", rid))
    )


def _fault_headers(fault: Fault) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    if fault.retry_after is not None:
        out.append(("Retry-After", fault.retry_after))
    if fault.retry_after_ms is not None:
        out.append(("retry-after-ms", str(fault.retry_after_ms)))
    if fault.should_retry is not None:
        out.append(("x-should-retry", "true" if fault.should_retry else "false"))
    return (*out, *fault.headers.items())
