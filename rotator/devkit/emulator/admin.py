"""Admin endpoints under ``/_emulator/``: control an emulator running in another process.

FOR TEST USE ONLY: ``.../raw`` returns secrets in clear. On loopback they take no authentication;
an emulator started with an admin token (the only way to listen beyond loopback, see ``bind``)
answers 401 without the token and 403 with a wrong one (header ``x-emulator-admin-token`` or
``Authorization: Bearer``), on every admin endpoint but ``health``.

    POST   /_emulator/auth_configs          {"id", "type", "toolkit", "name", "credentials",
                                             "shared_credentials", "enabled", "auth_scheme"}
    GET    /_emulator/auth_configs/{id}/raw  unmasked credentials and shared_credentials
    POST   /_emulator/faults                {Fault fields (body as text), "nanoid", "times"}
    DELETE /_emulator/faults                clear queued faults and the random mix
    POST   /_emulator/random_faults         {"mix": {FaultMix fields} | null, "seed": 0}
    GET    /_emulator/journal               {"entries": [JournalEntry, ...]}
    DELETE /_emulator/journal
    POST   /_emulator/rate_limit            {"limit": int | null, "window": 60}
    POST   /_emulator/api_keys              {"keys": [str, ...]}
    GET    /_emulator/health                {"ok": true}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from rotator.devkit.emulator.backend import Backend
from rotator.devkit.emulator.bind import ADMIN_TOKEN_HEADER, admin_denial
from rotator.devkit.emulator.faults import FaultMix, fault_from_json
from rotator.devkit.emulator.messages import (
    ApiError,
    Request,
    Response,
    error_response,
    json_response,
)

__all__ = ["PREFIX", "handle_admin"]

PREFIX = "/_emulator/"
_OK = {"ok": True}


def handle_admin(
    backend: Backend, req: Request, rid: str, *, admin_token: str | None = None
) -> Response:
    """Answer one admin request; bad input is a 400 in the usual error envelope."""
    try:
        denied = None if req.path == PREFIX + "health" else admin_denial(admin_token, req.headers)
        if denied is not None:
            raise ApiError(denied, f"the admin endpoints need the {ADMIN_TOKEN_HEADER} header")
        response = _route(backend, req)
    except ApiError as exc:
        response = error_response(exc, rid)
    except (KeyError, TypeError, ValueError) as exc:
        response = error_response(ApiError(400, f"{type(exc).__name__}: {exc}"), rid)
    return response.with_headers((("x-request-id", rid),))


def _route(backend: Backend, req: Request) -> Response:
    path = req.path[len(PREFIX) :]
    parts = path.split("/")
    if req.method == "GET" and len(parts) == 3 and parts[0] == "auth_configs" and parts[2] == "raw":
        return _raw(backend, parts[1])
    handler = _ROUTES.get((req.method, path))
    if handler is None:
        raise ApiError(404, f"No admin route for {req.method} {req.path}")
    return handler(backend, _body(req))


def _body(req: Request) -> dict[str, Any]:
    if not req.body:
        return {}
    data = json.loads(req.body)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _raw(backend: Backend, nanoid: str) -> Response:
    try:
        cfg = backend.store.raw(nanoid)
    except KeyError:
        raise ApiError(404, "Auth config not found") from None
    return json_response(
        200,
        {
            "id": cfg.id,
            "type": cfg.type,
            "enabled": cfg.enabled,
            "credentials": cfg.credentials,
            "shared_credentials": cfg.shared_credentials,
        },
    )


def _create(backend: Backend, data: dict[str, Any]) -> Response:
    nanoid = data.pop("id")
    if not isinstance(nanoid, str):
        raise ValueError("id must be a string")
    backend.add_auth_config(nanoid, **data)
    return json_response(201, {"id": nanoid})


def _inject(backend: Backend, data: dict[str, Any]) -> Response:
    nanoid = data.pop("nanoid", None)
    times = data.pop("times", 1)
    backend.faults.inject(fault_from_json(data), nanoid=nanoid, times=times)
    return json_response(200, _OK)


def _random(backend: Backend, data: dict[str, Any]) -> Response:
    mix = data.get("mix")
    backend.faults.set_mix(FaultMix(**mix) if mix else None, seed=int(data.get("seed", 0)))
    return json_response(200, _OK)


def _journal(backend: Backend, data: dict[str, Any]) -> Response:
    return json_response(200, {"entries": [asdict(e) for e in backend.journal.entries()]})


def _rate_limit(backend: Backend, data: dict[str, Any]) -> Response:
    backend.limiter.configure(data.get("limit"), float(data.get("window", 60.0)))
    return json_response(200, _OK)


def _clear_faults(backend: Backend, data: dict[str, Any]) -> Response:
    backend.faults.clear()
    return json_response(200, _OK)


def _clear_journal(backend: Backend, data: dict[str, Any]) -> Response:
    backend.journal.clear()
    return json_response(200, _OK)


def _api_keys(backend: Backend, data: dict[str, Any]) -> Response:
    backend.set_api_keys(data["keys"])
    return json_response(200, _OK)


def _health(backend: Backend, data: dict[str, Any]) -> Response:
    return json_response(200, _OK)


_ROUTES: dict[tuple[str, str], Callable[[Backend, dict[str, Any]], Response]] = {
    ("POST", "auth_configs"): _create,
    ("POST", "faults"): _inject,
    ("DELETE", "faults"): _clear_faults,
    ("POST", "random_faults"): _random,
    ("GET", "journal"): _journal,
    ("DELETE", "journal"): _clear_journal,
    ("POST", "rate_limit"): _rate_limit,
    ("POST", "api_keys"): _api_keys,
    ("GET", "health"): _health,
}
