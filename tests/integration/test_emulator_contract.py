"""The emulator's real answers match Composio's own OpenAPI spec (plus the documented deltas).

The spec is vendored in ``tests/data/composio-openapi-auth-configs.json`` (OpenAPI 3.0; its
source and date are in ``tests/data/README.md``).
Its schemas are translated to JSON Schema here (``nullable`` becomes a type union, ``$ref`` is
inlined) and checked with ``jsonschema``. Deltas known since the spec was published (listed in
``tests/data/README.md``) are applied explicitly: the error envelope gained a required ``slug``;
PATCH answers ``{"success": true, "message": ...}``; on PATCH ``credentials`` became optional
for ``custom``, ``name`` and ``is_enabled_for_tool_router`` were added, ``proxy_config`` may be
null, and ``default`` may carry top-level ``user_scopes``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from rotator.devkit.emulator import Emulator, Fault
from tests.paths import DATA

SPEC_PATH = DATA / "composio-openapi-auth-configs.json"
KEY = "test-key"
ONE = "/api/v3/auth_configs/{nanoid}"
LIST = "/api/v3/auth_configs"
Schema = dict[str, Any]


@pytest.fixture(scope="module")
def spec() -> Schema:
    if not SPEC_PATH.is_file():
        pytest.fail(
            f"Composio's OpenAPI spec is missing at {SPEC_PATH}: it is vendored in the "
            "repository (tests/data/README.md says from where)",
            pytrace=False,
        )
    data: Schema = json.loads(SPEC_PATH.read_text())
    return data


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_keys=[KEY]) as emulator:
        emulator.add_auth_config(
            "ac_custom",
            credentials={"client_id": "cid", "client_secret": "secret-value-123456"},
            shared_credentials={"api_key": "shared-secret-123456"},
        )
        emulator.add_auth_config("ac_default", type="default", toolkit="slack", enabled=False)
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, headers={"x-api-key": KEY}, timeout=5.0) as c:
        yield c


# -- OpenAPI 3.0 -> JSON Schema -------------------------------------------------------------
def translate(node: Any, spec: Schema) -> Any:
    """JSON Schema from an OpenAPI 3.0 schema: refs inlined, ``nullable`` as a type union."""
    if isinstance(node, list):
        return [translate(item, spec) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return translate(target, spec)
    out = {k: translate(v, spec) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def response_schema(spec: Schema, path: str, method: str, status: int) -> Schema:
    responses = spec["paths"][path][method]["responses"]
    schema: Schema = translate(
        responses[str(status)]["content"]["application/json"]["schema"], spec
    )
    if status >= 400:  # delta: the Error schema gained a required slug
        error = schema["properties"]["error"]
        error["properties"]["slug"] = {"type": "string", "pattern": "^[A-Za-z0-9]+_[A-Za-z0-9]+$"}
        error["required"] = [*error["required"], "slug"]
    return schema


def closed(schema: Schema) -> Schema:
    """The schema with every object that lists properties closed to undeclared ones."""
    schema = copy.deepcopy(schema)
    stack = [schema]
    while stack:
        node = stack.pop()
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        stack += [v for v in node.get("properties", {}).values() if isinstance(v, dict)]
        stack += [node["items"]] if isinstance(node.get("items"), dict) else []
    return schema


def problems(schema: Schema, instance: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def assert_matches(schema: Schema, response: httpx.Response) -> None:
    errors = problems(schema, response.json())
    assert not errors, f"{response.request.method} {response.request.url} -> {errors}"


# -- responses -------------------------------------------------------------------------------
PATCH_200_DELTA: Schema = {
    "type": "object",
    "required": ["success", "message"],
    "properties": {"success": {"const": True}, "message": {"type": "string"}},
    "additionalProperties": False,
}


def test_patch_200_matches_spec_and_delta(spec: Schema, client: httpx.Client) -> None:
    """PATCH 200 fits the spec's object and the documented {"success", "message"} body."""
    body = {"type": "custom", "credentials": {"client_secret": "new"}}
    response = client.patch("/api/v3/auth_configs/ac_custom", json=body)
    assert response.status_code == 200
    assert_matches(response_schema(spec, ONE, "patch", 200), response)
    assert_matches(PATCH_200_DELTA, response)


@pytest.mark.parametrize(
    ("status", "nanoid", "headers", "body"),
    [
        (400, "ac_custom", {}, {"auth_config": {"type": "custom"}}),
        (401, "ac_custom", {"x-api-key": "wrong"}, {"type": "custom"}),
        (401, "ac_custom", {"x-user-api-key": KEY}, {"type": "custom"}),  # both headers
        (404, "ac_missing", {}, {"type": "custom"}),
    ],
)
def test_patch_errors_match_the_error_schema(
    spec: Schema,
    client: httpx.Client,
    status: int,
    nanoid: str,
    headers: dict[str, str],
    body: object,
) -> None:
    """PATCH 400, 401 and 404 answers are Error envelopes (with slug) as the spec declares."""
    response = client.patch(f"/api/v3/auth_configs/{nanoid}", json=body, headers=headers)
    assert response.status_code == status
    assert_matches(response_schema(spec, ONE, "patch", status), response)


def test_get_one_200_matches_spec_closed(spec: Schema, client: httpx.Client) -> None:
    """GET one matches the spec's 200 schema, with no field the spec does not declare."""
    client.patch(
        "/api/v3/auth_configs/ac_custom",
        json={
            "type": "custom",
            "proxy_config": {"proxy_url": "https://p.example", "proxy_auth_key": "k"},
        },
    )
    for nanoid in ("ac_custom", "ac_default"):
        response = client.get(f"/api/v3/auth_configs/{nanoid}")
        assert response.status_code == 200
        assert_matches(closed(response_schema(spec, ONE, "get", 200)), response)


@pytest.mark.parametrize(("status", "path"), [(404, "/api/v3/auth_configs/ac_missing")])
def test_get_one_404_matches_error_schema(
    spec: Schema, client: httpx.Client, status: int, path: str
) -> None:
    """GET one on an unknown id answers the spec's 404 Error envelope."""
    response = client.get(path)
    assert response.status_code == status
    assert_matches(response_schema(spec, ONE, "get", status), response)


def test_get_list_200_matches_spec_closed(
    spec: Schema, emu: Emulator, client: httpx.Client
) -> None:
    """Every list page matches the spec's 200 schema, with no undeclared field."""
    for i in range(5):
        emu.add_auth_config(f"ac_{i}")
    params = {"limit": "2", "show_disabled": "true"}
    schema = closed(response_schema(spec, LIST, "get", 200))
    cursor = None
    while True:
        response = client.get(LIST, params={**params, **({"cursor": cursor} if cursor else {})})
        assert_matches(schema, response)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break


@pytest.mark.parametrize(
    ("status", "params", "headers"),
    [(400, {"limit": "zero"}, {}), (401, {}, {"x-api-key": "nope"})],
)
def test_get_list_errors_match_error_schema(
    spec: Schema, client: httpx.Client, status: int, params: dict[str, str], headers: dict[str, str]
) -> None:
    """List errors (bad query, bad key) are the spec's Error envelope."""
    response = client.get(LIST, params=params, headers=headers)
    assert response.status_code == status
    assert_matches(response_schema(spec, LIST, "get", status), response)


def test_injected_5xx_is_an_error_envelope(
    spec: Schema, emu: Emulator, client: httpx.Client
) -> None:
    """An injected 500 in the default shape is the spec's 500 Error envelope."""
    emu.inject(Fault(status=500))
    response = client.get("/api/v3/auth_configs/ac_custom")
    assert response.status_code == 500
    assert_matches(response_schema(spec, ONE, "get", 500), response)


# -- requests: the emulator accepts exactly what the (delta'd) spec allows -----------------
def patch_request_schema(spec: Schema) -> Schema:
    """The PATCH body schema with the documented deltas, each branch closed at the top."""
    body = spec["paths"][ONE]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    schema: Schema = translate(body, spec)
    custom, default = schema["oneOf"]
    custom["required"] = ["type"]
    custom["properties"]["name"] = default["properties"]["name"] = {"type": "string"}
    custom["properties"]["is_enabled_for_tool_router"] = {"type": "boolean"}
    custom["properties"]["proxy_config"]["type"] = ["object", "null"]
    default["properties"]["user_scopes"] = default["properties"]["scopes"]
    for branch in (custom, default):
        branch["additionalProperties"] = False
        branch["properties"]["tool_access_config"]["additionalProperties"] = False
    return schema


BODIES: list[object] = [
    {"type": "custom", "credentials": {"client_secret": "x"}},
    {"type": "custom"},
    {"type": "custom", "shared_credentials": {"k": "v"}, "name": "n"},
    {"type": "custom", "credentials": {"scopes": ["a", "b"], "user_scopes": "c"}},
    {"type": "custom", "is_enabled_for_tool_router": True},
    {"type": "custom", "proxy_config": {"proxy_url": "https://p.example"}},
    {"type": "custom", "proxy_config": None},
    {"type": "custom", "tool_access_config": {"tools_available_for_execution": ["A"]}},
    {"type": "custom", "restrict_to_following_tools": ["A"]},
    {"type": "default", "shared_credentials": {"k": "v"}, "scopes": "a", "user_scopes": ["b"]},
    {"type": "default", "tool_access_config": {}},
    {"auth_config": {"type": "custom", "credentials": {"client_secret": "x"}}},
    {},
    {"type": "other"},
    {"type": "default", "credentials": {"client_secret": "x"}},
    {"type": "default", "proxy_config": {"proxy_url": "https://p.example"}},
    {"type": "default", "is_enabled_for_tool_router": True},
    {"type": "custom", "credentials": "x"},
    {"type": "custom", "credentials": {"scopes": 5}},
    {"type": "custom", "shared_credentials": []},
    {"type": "custom", "proxy_config": {}},
    {"type": "custom", "restrict_to_following_tools": "A"},
    {"type": "custom", "tool_access_config": {"tools": ["A"]}},
    {"type": "custom", "bogus": 1},
    ["type", "custom"],
]


@pytest.mark.parametrize("body", BODIES, ids=[json.dumps(b)[:60] for b in BODIES])
def test_emulator_accepts_exactly_the_bodies_the_spec_allows(
    spec: Schema, client: httpx.Client, body: object
) -> None:
    """A PATCH body is accepted (200) if and only if the spec plus deltas allows it."""
    nanoid = (
        "ac_default" if isinstance(body, dict) and body.get("type") == "default" else "ac_custom"
    )
    response = client.patch(f"/api/v3/auth_configs/{nanoid}", json=body)
    allowed = not problems(patch_request_schema(spec), body)
    assert response.status_code == (200 if allowed else 400), response.text
    if not allowed:
        assert_matches(response_schema(spec, ONE, "patch", 400), response)
