"""The Composio client: request shape, retry loop and defensive parsing, at the httpx edge.

``httpx.MockTransport`` stands in for the network here; sleeps and jitter are injected, so
nothing waits. The same scenarios run over real sockets in ``test_composio_live.py``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import certifi
import httpx
import jsonschema
import pytest
from structlog.testing import capture_logs

from rotator.composio.client import ComposioClient, PatchResult, parse_response
from rotator.core.errors import (
    ComposioRejected,
    ComposioUnavailable,
    ConfigError,
    SecretFormatError,
)
from rotator.core.models import Payload, RetryAction, Secret
from rotator.core.retry import RetryBudget
from rotator.settings.load import Settings
from tests.paths import DATA

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
BASE = "https://composio.test"
KEY, NEW_KEY = "ck_live_OLDKEY_123456", "ck_live_NEWKEY_654321"
CLIENT_SECRET = "s3cr3t-CLIENT-value"
SPEC = DATA / "composio-openapi-auth-configs.json"
Reply = httpx.Response | Exception


def custom_payload() -> Payload:
    return Payload(
        type="custom",
        credentials={
            "client_id": Secret("cid-123"),
            "client_secret": Secret(CLIENT_SECRET),
            "scopes": ("read", "write"),
        },
    )


class Keys:
    """A key provider that records each call and hands out a new key after a refresh."""

    def __init__(self) -> None:
        self.calls: list[bool] = []
        self.current = KEY

    def __call__(self, refresh: bool) -> Secret:
        self.calls.append(refresh)
        if refresh:
            self.current = NEW_KEY
        return Secret(self.current)


class Server:
    """Answers requests from a script of replies (the last one repeats) and records them."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        try:  # a fresh copy, so that one scripted reply can answer many requests
            return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)
        except httpx.ResponseNotRead:  # a streamed body answers once
            return reply


class Harness:
    def __init__(self, server: Server, *, key_refreshable: bool = True, **kw: Any) -> None:
        self.server = server
        self.keys = Keys()
        self.sleeps: list[float] = []
        self.client = ComposioClient(
            base_url=kw.pop("base_url", BASE),
            key_provider=self.keys,
            key_refreshable=key_refreshable,
            budget=kw.pop("budget", RetryBudget()),
            transport=httpx.MockTransport(server),
            sleep=self.sleeps.append,
            rand=lambda: 1.0,
            **kw,
        )


@pytest.fixture
def harness() -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*replies: Reply, **kw: Any) -> Harness:
        made.append(Harness(Server(*replies), **kw))
        return made[-1]

    yield make
    for h in made:
        h.client.close()


def envelope(status: int, slug: str, message: str, **extra: object) -> httpx.Response:
    body = {"error": {"message": message, "code": 10000 + status, "slug": slug, "status": status}}
    body["error"].update(extra)
    return httpx.Response(status, json=body, headers={"x-request-id": "req_hdr"})


OK = httpx.Response(200, json={"success": True, "message": "Auth config updated"})


# -- request shape -------------------------------------------------------------------------------


def patch_schema() -> dict[str, Any]:
    """The PATCH request schema from Composio's spec, with the deltas tests/data/README.md lists."""
    if not SPEC.is_file():
        pytest.fail(f"the Composio OpenAPI excerpt is missing: {SPEC}", pytrace=False)
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    op = spec["paths"]["/api/v3/auth_configs/{nanoid}"]["patch"]
    schema = copy.deepcopy(op["requestBody"]["content"]["application/json"]["schema"])
    for branch in schema["oneOf"]:
        branch["required"] = [r for r in branch["required"] if r != "credentials"]
        branch["properties"]["name"] = {"type": "string"}
        branch["properties"]["is_enabled_for_tool_router"] = {"type": "boolean"}
    return dict(schema)


@pytest.mark.parametrize(
    "payload",
    [
        custom_payload(),
        Payload(type="custom", shared_credentials={"api_key": Secret("shared-1")}),
        Payload(type="default", shared_credentials={"api_key": Secret("shared-1")}),
    ],
    ids=["custom credentials", "custom shared only", "default shared"],
)
def test_patch_body_is_flat_json_valid_against_the_spec(
    harness: Callable[..., Harness], payload: Payload
) -> None:
    """The body is exactly payload.body(): flat, no auth_config wrapper, valid per the schema."""
    h = harness(OK)
    h.client.update_auth_config("ac_x1", payload)
    (request,) = h.server.requests
    body = json.loads(request.content)
    assert body == payload.body()
    assert "auth_config" not in body
    jsonschema.validate(body, patch_schema())
    assert request.method == "PATCH"
    assert request.url == f"{BASE}/api/v3/auth_configs/ac_x1"


def test_schema_check_rejects_the_stale_wrapper_shape() -> None:
    """Sanity: the schema used above really refuses the {"auth_config": {...}} wrapper."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"auth_config": {"credentials": {}}}, patch_schema())


def test_patch_sends_exactly_one_auth_header_and_json_headers(
    harness: Callable[..., Harness],
) -> None:
    """x-api-key only (no bearer, user or org key), JSON content type, rotator User-Agent."""
    h = harness(OK)
    h.client.update_auth_config("ac_x1", custom_payload())
    headers = h.server.requests[0].headers
    assert headers.get_list("x-api-key") == [KEY]
    for other in ("x-user-api-key", "x-org-api-key", "authorization", "cookie"):
        assert other not in headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("rotator/")


def test_timeouts_are_always_set(harness: Callable[..., Harness]) -> None:
    """The pooled client and every request carry connect/read/write/pool timeouts."""
    h = harness(OK, timeout=12.0, connect_timeout=3.0)
    assert h.client._client.timeout == httpx.Timeout(12.0, connect=3.0)
    h.client.update_auth_config("ac_x1", custom_payload())
    assert h.server.requests[0].extensions["timeout"] == {
        "connect": 3.0,
        "read": 12.0,
        "write": 12.0,
        "pool": 12.0,
    }


def test_success_reports_status_request_id_attempts_and_rate_limit(
    harness: Callable[..., Harness],
) -> None:
    """A 200 gives a PatchResult with the request id and the rate-limit headers."""
    reply = httpx.Response(
        200,
        json={"success": True},
        headers={"x-request-id": "req_1", "X-RateLimit": "2000", "X-RateLimit-Remaining": "1999"},
    )
    h = harness(reply)
    result = h.client.update_auth_config("ac_x1", custom_payload())
    assert result == PatchResult(
        status=200, request_id="req_1", attempts=1, rate_limit=2000, rate_remaining=1999
    )


# -- retry loop ----------------------------------------------------------------------------------


def test_503_503_200_succeeds_after_two_sleeps(harness: Callable[..., Harness]) -> None:
    """Two blips are retried in the call with full-jitter backoff (rand=1: 0.5 s, 1 s)."""
    h = harness(httpx.Response(503), httpx.Response(503), OK)
    with capture_logs() as logs:
        result = h.client.update_auth_config("ac_x1", custom_payload())
    assert result.attempts == 3
    assert h.sleeps == [0.5, 1.0]
    retries = [e for e in logs if e["event"] == "rotation.retrying"]
    assert [e["attempt"] for e in retries] == [1, 2]
    assert retries[0] == {
        "event": "rotation.retrying",
        "log_level": "warning",
        "attempt": 1,
        "http_status": 503,
        "error_slug": None,
        "request_id": None,
        "delay_s": 0.5,
        "reason": "503 is transient; backoff 0.50s",
    }


def test_429_with_retry_after_2_sleeps_exactly_2(harness: Callable[..., Harness]) -> None:
    """A short Retry-After is obeyed in the call, to the second."""
    h = harness(httpx.Response(429, headers={"Retry-After": "2"}), OK)
    assert h.client.update_auth_config("ac_x1", custom_payload()).attempts == 2
    assert h.sleeps == [2.0]


def test_429_with_retry_after_120_goes_back_to_the_caller(harness: Callable[..., Harness]) -> None:
    """A long Retry-After is not slept: ComposioUnavailable carries it for the countdown."""
    h = harness(
        httpx.Response(
            429, json={"message": "Rate limit exceeded. Slow down."}, headers={"Retry-After": "120"}
        )
    )
    with pytest.raises(ComposioUnavailable) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    assert caught.value.retry_after == 120.0
    assert caught.value.status == 429
    assert getattr(caught.value, "attempts", None) == 1
    assert h.sleeps == []
    assert "Rate limit exceeded" in str(caught.value)


def test_persistent_503_becomes_unavailable_with_a_countdown(
    harness: Callable[..., Harness],
) -> None:
    """After the in-call attempts the caller gets no server wait (the requeue countdown is the
    caller's to decide) and 3 attempts."""
    h = harness(httpx.Response(503))
    with pytest.raises(ComposioUnavailable) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    assert caught.value.server_wait is None and caught.value.earliest is None
    assert caught.value.attempts == 3
    assert len(h.server.requests) == 3


def test_400_fails_at_once_with_status_slug_request_id_and_fix(
    harness: Callable[..., Harness],
) -> None:
    """A 400 envelope is one attempt and a ComposioRejected carrying the API's details."""
    reply = envelope(
        400, "HTTP_BadRequest", "credentials.client_id is required", suggested_fix="Send it"
    )
    h = harness(reply)
    with pytest.raises(ComposioRejected) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    exc = caught.value
    assert (exc.status, exc.slug, exc.request_id, exc.suggested_fix) == (
        400,
        "HTTP_BadRequest",
        "req_hdr",
        "Send it",
    )
    assert str(exc) == (
        "Composio answered 400 HTTP_BadRequest for ac_x1: credentials.client_id is required "
        "(request req_hdr)"
    )
    assert getattr(exc, "attempts", None) == 1
    assert len(h.server.requests) == 1
    assert h.sleeps == []


def test_404_is_rejected(harness: Callable[..., Harness]) -> None:
    """An unknown auth config is permanent, whatever slug the server invents for it."""
    h = harness(envelope(404, "AuthConfig_NotFound", "Auth config not found"))
    with pytest.raises(ComposioRejected) as caught:
        h.client.update_auth_config("ac_missing", custom_payload())
    assert caught.value.status == 404
    assert len(h.server.requests) == 1


def test_401_rereads_the_key_then_succeeds(harness: Callable[..., Harness]) -> None:
    """With a Vault-held key a 401 re-reads it (provider(True)) and retries with the new one."""
    h = harness(envelope(401, "HTTP_Unauthorized", "Invalid API key"), OK)
    result = h.client.update_auth_config("ac_x1", custom_payload())
    assert result.attempts == 2
    assert h.keys.calls == [False, True]
    assert [r.headers["x-api-key"] for r in h.server.requests] == [KEY, NEW_KEY]
    assert h.sleeps == []


def test_401_twice_is_rejected(harness: Callable[..., Harness]) -> None:
    """Re-auth happens once; a second 401 is a ComposioRejected."""
    h = harness(envelope(401, "HTTP_Unauthorized", "Invalid API key"))
    with pytest.raises(ComposioRejected) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    assert caught.value.status == 401
    assert h.keys.calls == [False, True]
    assert getattr(caught.value, "attempts", None) == 2


def test_401_with_a_fixed_key_is_rejected_at_once(harness: Callable[..., Harness]) -> None:
    """A key from the environment cannot be re-read: no second attempt."""
    h = harness(envelope(401, "HTTP_Unauthorized", "Invalid API key"), key_refreshable=False)
    with pytest.raises(ComposioRejected):
        h.client.update_auth_config("ac_x1", custom_payload())
    assert h.keys.calls == [False]


def test_x_should_retry_false_stops_a_503(harness: Callable[..., Harness]) -> None:
    """The server's x-should-retry: false is obeyed even on a 5xx."""
    h = harness(httpx.Response(503, headers={"x-should-retry": "false"}), OK)
    with pytest.raises(ComposioRejected) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    assert caught.value.status == 503
    assert len(h.server.requests) == 1


def test_slug_override_from_configuration_wins(harness: Callable[..., Harness]) -> None:
    """An override turns a normally permanent slug into an in-call retry."""
    flaky = envelope(400, "Tool_Flaky", "try again")
    h = harness(flaky, OK, overrides={"Tool_Flaky": RetryAction.RETRY_NOW})
    assert h.client.update_auth_config("ac_x1", custom_payload()).attempts == 2


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (httpx.ConnectError("refused"), "connect"),
        (httpx.ConnectTimeout("slow connect"), "timeout"),
        (httpx.ReadTimeout("slow read"), "timeout"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "protocol"),
        (httpx.ReadError("connection reset"), "protocol"),
    ],
)
def test_transport_errors_are_retried_then_unavailable(
    harness: Callable[..., Harness], error: Exception, failure: str
) -> None:
    """No answer at all is transient: retried in the call, then a countdown for the caller."""
    h = harness(error)
    with pytest.raises(ComposioUnavailable) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    assert str(caught.value).startswith(f"Composio did not answer for ac_x1: {failure}")
    assert caught.value.status is None
    assert len(h.server.requests) == 3
    assert h.sleeps == [0.5, 1.0]


def test_a_dropped_connection_then_success(harness: Callable[..., Harness]) -> None:
    """A blip of a dropped connection costs one retry."""
    h = harness(httpx.RemoteProtocolError("dropped"), OK)
    assert h.client.update_auth_config("ac_x1", custom_payload()).attempts == 2


# -- defensive parsing ---------------------------------------------------------------------------


def _endless() -> Iterator[bytes]:
    while True:
        yield b"x" * 4096


GARBAGE: dict[str, Callable[[int], httpx.Response]] = {
    "empty": httpx.Response,
    "html from a proxy": lambda s: httpx.Response(
        s,
        text=f"<html><body>Bad gateway {KEY}</body></html>",
        headers={"content-type": "text/html"},
    ),
    "truncated json": lambda s: httpx.Response(s, content=b'{"error": {"message": "cut'),
    "a list": lambda s: httpx.Response(s, json=[1, 2, 3]),
    "a string": lambda s: httpx.Response(s, json="nope"),
    "error not an object": lambda s: httpx.Response(s, json={"error": ["x"]}),
    "fields of the wrong type": lambda s: httpx.Response(
        s, json={"error": {"message": 5, "code": "x", "slug": ["a"], "status": "400"}}
    ),
    "deeply nested": lambda s: httpx.Response(s, content=b"[" * 100_000),
    "not utf-8": lambda s: httpx.Response(s, content=b"\xff\xfe\x00garbage"),
    "endless body": lambda s: httpx.Response(s, content=_endless()),
    "secret echoed": lambda s: httpx.Response(
        s, json={"error": {"message": f"bad key {KEY} for {CLIENT_SECRET}", "code": 1, "status": s}}
    ),
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
@pytest.mark.parametrize(
    ("status", "raised"), [(400, ComposioRejected), (503, ComposioUnavailable)]
)
def test_garbage_bodies_give_a_clear_error_without_secrets(
    harness: Callable[..., Harness], kind: str, status: int, raised: type[Exception]
) -> None:
    """Every odd body ends in the right error, with a readable message and no secret in it."""
    h = harness(*(GARBAGE[kind](status) for _ in range(3)))
    with capture_logs() as logs, pytest.raises(raised) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    text = str(caught.value) + repr(caught.value.args) + repr(logs)
    assert f"Composio answered {status} for ac_x1" in text
    for secret in (KEY, CLIENT_SECRET):
        assert secret not in text


def test_a_secret_is_masked_before_the_message_is_trimmed(harness: Callable[..., Harness]) -> None:
    """Masking comes first: a secret the trim would have cut in two is masked whole."""
    message = "x" * 290 + CLIENT_SECRET  # trimmed first, 7 chars of the secret would be left
    h = harness(httpx.Response(400, json={"error": {"message": message, "code": 1, "status": 400}}))
    with pytest.raises(ComposioRejected) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    assert CLIENT_SECRET[:5] not in str(caught.value)
    assert str(caught.value).endswith("x" * 290 + "***")


def test_a_secret_cut_by_composios_own_trim_is_still_masked(
    harness: Callable[..., Harness],
) -> None:
    """When Composio itself trimmed its message ("..."), the secret's head left is masked."""
    message = "bad secret " + CLIENT_SECRET[:9] + "..."
    h = harness(httpx.Response(400, json={"error": {"message": message, "code": 1, "status": 400}}))
    with pytest.raises(ComposioRejected) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    assert CLIENT_SECRET[:5] not in str(caught.value)
    assert str(caught.value).endswith("bad secret ***...")


def test_huge_bodies_are_read_only_up_to_64_kib() -> None:
    """An endless body is cut after 64 KiB instead of exhausting memory, and said to be too
    large (not "not JSON")."""
    chunks = iter(_endless())
    consumed = 0

    def counting() -> Iterator[bytes]:
        nonlocal consumed
        for chunk in chunks:
            consumed += len(chunk)
            yield chunk

    info = parse_response(httpx.Response(502, content=counting()), now=NOW)
    assert info.status == 502
    assert info.message == "answer larger than 65536 bytes"
    assert consumed <= 64 * 1024 + 4096 * 2


def test_a_2xx_with_a_garbage_body_is_still_success(harness: Callable[..., Harness]) -> None:
    """Older servers answer {} and odd ones worse: the status decides, the oddity is logged."""
    h = harness(httpx.Response(200, text="<html>ok</html>"))
    with capture_logs() as logs:
        assert h.client.update_auth_config("ac_x1", custom_payload()).status == 200
    assert [e["event"] for e in logs] == ["composio.unusable_body"]


def test_an_empty_object_2xx_is_quiet_success(harness: Callable[..., Harness]) -> None:
    """{} is what older servers return: success, nothing logged."""
    h = harness(httpx.Response(200, json={}))
    with capture_logs() as logs:
        h.client.update_auth_config("ac_x1", custom_payload())
    assert logs == []


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            envelope(400, "HTTP_BadRequest", "bad", request_id="req_body", suggested_fix="fix"),
            {"slug": "HTTP_BadRequest", "code": 10400, "message": "bad", "request_id": "req_hdr"},
        ),
        (
            httpx.Response(
                400,
                json={"error": {"message": "m", "code": 1, "status": 400, "request_id": "req_b"}},
            ),
            {"request_id": "req_b", "message": "m", "code": 1},
        ),
        (
            httpx.Response(429, json={"message": "Rate limit exceeded. Try later."}),
            {"message": "Rate limit exceeded. Try later.", "slug": None},
        ),
        (
            httpx.Response(429, json={"code": 10429, "slug": "HTTP_TooManyRequests"}),
            {"code": 10429, "slug": "HTTP_TooManyRequests", "message": None},
        ),
        (
            httpx.Response(
                400, json={"error": {"message": "m", "errors": ["a: bad", "b: bad", 3]}}
            ),
            {"message": "m; a: bad; b: bad"},
        ),
        (
            httpx.Response(401, json={"error": "Unauthorized"}),
            {"message": "Unauthorized"},
        ),
        (
            httpx.Response(400, json={"error": {"message": "x" * 1000, "code": 10400.0}}),
            {"message": "x" * 297 + "...", "code": 10400},
        ),
        (
            httpx.Response(400, json={"error": {"message": "two\nlines\there", "code": True}}),
            {"message": "two lines here", "code": None},
        ),
        (
            httpx.Response(400, json={"error": {"slug": "Bad slug!<script>"}}),
            {"slug": None},
        ),
        (httpx.Response(502), {"message": "empty body"}),
        (
            httpx.Response(
                502, text="<html>x</html>", headers={"content-type": "text/html; charset=utf-8"}
            ),
            {"message": "body is not JSON (text/html, 14 bytes)"},
        ),
        (httpx.Response(400, json=[1]), {"message": "JSON body is list, not an object"}),
    ],
)
def test_parse_response_reads_bodies_defensively(
    response: httpx.Response, expected: dict[str, object]
) -> None:
    """Envelope, bare 429 bodies and odd shapes all parse; wrong types become None."""
    info = parse_response(response, now=NOW)
    assert {k: getattr(info, k) for k in expected} == expected
    assert info.status == response.status_code


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "30"}, {"retry_after": 30.0}),
        ({"Retry-After": "Wed, 25 Nov 2026 12:00:45 GMT"}, {"retry_after": 45.0}),
        ({"retry-after-ms": "1500"}, {"retry_after": 1.5}),
        ({"Retry-After": "later"}, {"retry_after": None}),
        ({"x-should-retry": "TRUE"}, {"should_retry": True}),
        ({"x-should-retry": "false"}, {"should_retry": False}),
        ({"x-should-retry": "maybe"}, {"should_retry": None}),
        (
            {"X-RateLimit": "2000", "X-RateLimit-Remaining": "0", "X-RateLimit-Window-Size": "60s"},
            {"rate_limit": 2000, "rate_remaining": 0, "rate_window": 60.0},
        ),
        ({"X-RateLimit-Window-Size": "1m"}, {"rate_window": 60.0}),
        ({"X-RateLimit-Window-Size": "500ms"}, {"rate_window": 0.5}),
        (
            {"X-RateLimit-Window-Size": "soon", "X-RateLimit": "lots"},
            {"rate_window": None, "rate_limit": None},
        ),
        ({"x-request-id": "req_abc-123"}, {"request_id": "req_abc-123"}),
        ({"x-request-id": "bad id\twith junk"}, {"request_id": None}),
    ],
)
def test_parse_response_reads_headers(headers: dict[str, str], expected: dict[str, object]) -> None:
    """Retry, rate-limit and request-id headers are captured; garbage values become None."""
    info = parse_response(httpx.Response(429, headers=headers), now=NOW)
    assert {k: getattr(info, k) for k in expected} == expected


# -- configuration and the other calls -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://backend.composio.dev",
        "http://127.0.0.1:8080",
        "http://127.9.9.9",
        "http://[::1]:80",
        "http://localhost:9",
    ],
)
def test_https_or_loopback_http_base_urls_are_accepted(url: str) -> None:
    """https anywhere; plain http only to loopback (the emulator)."""
    ComposioClient(
        base_url=url, key_provider=Keys(), key_refreshable=False, budget=RetryBudget()
    ).close()


@pytest.mark.parametrize(
    "url",
    ["http://composio.example", "http://10.0.0.1", "ftp://composio.example", "composio.example"],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    """The API key must not cross a network in clear text."""
    with pytest.raises(ConfigError, match="use https://"):
        ComposioClient(
            base_url=url, key_provider=Keys(), key_refreshable=False, budget=RetryBudget()
        )


def test_a_custom_ca_bundle_is_accepted_and_a_missing_one_refused() -> None:
    """verify may name a CA file (loaded into an SSL context); a wrong path is a ConfigError."""
    kw: dict[str, Any] = {
        "base_url": BASE,
        "key_provider": Keys(),
        "key_refreshable": False,
        "budget": RetryBudget(),
    }
    ComposioClient(verify=certifi.where(), **kw).close()
    with pytest.raises(ConfigError, match="CA bundle"):
        ComposioClient(verify="/nonexistent/ca.pem", **kw)


def test_an_odd_auth_config_id_is_refused_before_any_request(
    harness: Callable[..., Harness],
) -> None:
    """Path characters in an id never reach the URL."""
    h = harness(OK)
    with pytest.raises(ConfigError):
        h.client.update_auth_config("../api_keys", custom_payload())
    assert h.server.requests == []


def test_a_key_with_control_characters_is_refused_without_echoing_it(
    harness: Callable[..., Harness],
) -> None:
    """A key that cannot be a header value is a SecretFormatError that does not show it."""
    h = harness(OK)
    h.keys.current = "ck_bad\nkey"
    with pytest.raises(SecretFormatError) as caught:
        h.client.update_auth_config("ac_x1", custom_payload())
    assert "ck_bad" not in str(caught.value)
    assert h.server.requests == []


def test_surrounding_whitespace_in_the_key_is_trimmed(harness: Callable[..., Harness]) -> None:
    """A key stored in Vault with a trailing newline still works."""
    h = harness(OK)
    h.keys.current = KEY + "\n"
    h.client.update_auth_config("ac_x1", custom_payload())
    assert h.server.requests[0].headers["x-api-key"] == KEY


def test_get_auth_config_returns_the_json_object(harness: Callable[..., Harness]) -> None:
    """GET returns the (API-masked) config as a dict, after the same retry loop."""
    config = {"id": "ac_x1", "type": "custom", "status": "ENABLED"}
    h = harness(httpx.Response(503), httpx.Response(200, json=config))
    assert h.client.get_auth_config("ac_x1") == config
    assert [r.method for r in h.server.requests] == ["GET", "GET"]


def test_get_auth_config_with_a_non_object_body_is_rejected(
    harness: Callable[..., Harness],
) -> None:
    """A 200 that is not a JSON object cannot be shown as a config."""
    h = harness(httpx.Response(200, json=["x"]))
    with pytest.raises(ComposioRejected, match="not a JSON object"):
        h.client.get_auth_config("ac_x1")


def test_ping_lists_one_auth_config_without_retrying(harness: Callable[..., Harness]) -> None:
    """ping is one GET ?limit=1 and reports what came back, even an error."""
    h = harness(httpx.Response(503))
    info = h.client.ping()
    assert info.status == 503
    (request,) = h.server.requests
    assert request.url == f"{BASE}/api/v3/auth_configs?limit=1"
    assert request.headers["x-api-key"] == KEY


def test_ping_reports_no_answer_as_a_failure(harness: Callable[..., Harness]) -> None:
    """A connection error in ping is a ResponseInfo with status None, not an exception."""
    h = harness(httpx.ConnectError("refused"))
    assert h.client.ping().failure == "connect"


def test_from_settings_wires_budget_timeouts_and_key_refresh() -> None:
    """A Vault-held key is refreshable; timeouts and budgets come from settings."""
    settings = Settings(
        vault_addr="https://vault.example",
        composio_base_url="https://composio.example",
        composio_key_path="composio/api_key",
        composio_timeout=7.0,
        composio_connect_timeout=2.0,
        retry_in_call_attempts=4,
    )
    client = ComposioClient.from_settings(settings, key_provider=Keys())
    try:
        assert client._client.timeout == httpx.Timeout(7.0, connect=2.0)
        assert client._key_refreshable is True
        assert client._budget.in_call_attempts == 4
        assert str(client._client.base_url) == "https://composio.example"
    finally:
        client.close()
