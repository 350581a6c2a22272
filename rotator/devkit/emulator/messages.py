"""Value types shared by the emulator's layers, and Composio's error envelope.

A ``Request`` comes in, the application turns it into a ``Reply``: the ``Response`` to send, or
an instruction to misbehave (drop the connection, hang, answer late or drip the body). The h11
layer carries the reply out; nothing here does I/O.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

__all__ = [
    "ApiError",
    "Reply",
    "Request",
    "Response",
    "error_response",
    "http_code",
    "http_slug",
    "json_response",
    "new_request_id",
]

JSON = "application/json"

# Slugs have the form <Service>_<Name>. HTTP_* codes are 10000 + status, as the published range
# (10400, 10401, ...) shows. The AuthConfig_* codes are our own picks inside the published
# 200-299 auth config range: no authoritative slug or code is published for them.
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "RequestTimeout",
    409: "Conflict",
    413: "PayloadTooLarge",
    422: "UnprocessableEntity",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
VALIDATION_SLUG, VALIDATION_CODE = "AuthConfig_ValidationError", 201
NOT_FOUND_SLUG, NOT_FOUND_CODE = "AuthConfig_NotFound", 202


def http_slug(status: int) -> str:
    """``HTTP_<Name>`` for a status, e.g. ``HTTP_TooManyRequests`` for 429."""
    return "HTTP_" + _REASONS.get(status, "Error")


def http_code(status: int) -> int:
    """Composio's numeric code for a plain HTTP error, e.g. 10429 for 429."""
    return 10000 + status


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def new_request_id() -> str:
    return "req_" + secrets.token_hex(8)


@dataclass(frozen=True)
class Request:
    """One HTTP request; header names lower-case, ``path`` without the query string."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def with_headers(self, extra: tuple[tuple[str, str], ...]) -> Response:
        return Response(self.status, self.body, self.headers + extra) if extra else self


@dataclass(frozen=True)
class Reply:
    """What to do with the connection: send ``response`` (after ``delay``, the body dripped
    ``drip`` seconds per chunk), or ``drop`` it unanswered, or ``hang`` until the peer leaves."""

    response: Response | None
    delay: float = 0.0
    drip: float = 0.0
    drop: bool = False
    hang: bool = False


@dataclass
class ApiError(Exception):
    """An error answer in Composio's envelope. Messages name fields, never values."""

    status: int
    message: str
    slug: str | None = None
    code: int | None = None
    errors: list[str] = field(default_factory=list)
    suggested_fix: str | None = None

    def envelope(self, request_id: str) -> dict[str, object]:
        error: dict[str, object] = {
            "message": self.message,
            "code": self.code if self.code is not None else http_code(self.status),
            "slug": self.slug or http_slug(self.status),
            "status": self.status,
            "request_id": request_id,
        }
        if self.suggested_fix:
            error["suggested_fix"] = self.suggested_fix
        if self.errors:
            error["errors"] = list(self.errors)
        return {"error": error}


def json_response(
    status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, (("content-type", JSON), *headers))


def error_response(error: ApiError, request_id: str) -> Response:
    return json_response(error.status, error.envelope(request_id))
