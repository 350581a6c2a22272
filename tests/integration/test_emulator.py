"""The Composio emulator behaves as Composio documents its API, over real sockets with httpx."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator

import httpx
import pytest

from rotator.devkit.emulator import Emulator, Fault, FaultMix

KEY = "test-key"
SECRET = "s3cr3t-value-that-must-never-leak"
PATH = "/api/v3/auth_configs/ac_1"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_keys=[KEY]) as emulator:
        emulator.add_auth_config(
            "ac_1",
            credentials={"client_id": "cid-123", "client_secret": SECRET, "scopes": ["repo"]},
            shared_credentials={"api_key": SECRET},
        )
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, headers={"x-api-key": KEY}, timeout=5.0) as c:
        yield c


def patch(client: httpx.Client, body: object, path: str = PATH) -> httpx.Response:
    return client.patch(path, json=body)


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.01)


# -- PATCH: success and merge semantics ------------------------------------------------------
def test_patch_answers_success_and_message(client: httpx.Client) -> None:
    """A valid PATCH answers 200 with {"success": true, "message": ...}."""
    response = patch(client, {"type": "custom", "credentials": {"client_secret": "new"}})
    assert response.status_code == 200
    assert response.json()["success"] is True
    assert isinstance(response.json()["message"], str)
    assert response.headers["content-length"] == str(len(response.content))


def test_patch_merges_credentials_keeping_omitted_keys(emu: Emulator, client: httpx.Client) -> None:
    """Credentials merge key by key: sent keys change, omitted keys are preserved."""
    patch(client, {"type": "custom", "credentials": {"client_secret": "rotated"}})
    assert emu.credentials("ac_1") == {
        "client_id": "cid-123",
        "client_secret": "rotated",
        "scopes": ["repo"],
    }


def test_patch_explicit_null_clears_a_key(emu: Emulator, client: httpx.Client) -> None:
    """An explicit null removes that credential key and leaves the others."""
    patch(client, {"type": "custom", "credentials": {"scopes": None}})
    assert emu.credentials("ac_1") == {"client_id": "cid-123", "client_secret": SECRET}


def test_shared_credentials_merge_key_by_key(emu: Emulator, client: httpx.Client) -> None:
    """shared_credentials merge key by key too, and credentials stay untouched when omitted."""
    patch(client, {"type": "custom", "shared_credentials": {"region": "eu"}})
    assert emu.shared_credentials("ac_1") == {"api_key": SECRET, "region": "eu"}
    assert emu.credentials("ac_1")["client_secret"] == SECRET


def test_v3_1_path_behaves_like_v3(emu: Emulator, client: httpx.Client) -> None:
    """/api/v3.1/auth_configs/{id} is served exactly like /api/v3/."""
    body = {"type": "custom", "credentials": {"client_secret": "v31"}}
    assert patch(client, body, "/api/v3.1/auth_configs/ac_1").status_code == 200
    assert emu.credentials("ac_1")["client_secret"] == "v31"
    assert client.get("/api/v3.1/auth_configs/ac_1").json()["id"] == "ac_1"


# -- PATCH: strict validation ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"auth_config": {"type": "custom", "credentials": {"a": "b"}}}, "auth_config"),
        ({"credentials": {"client_secret": "x"}}, "type"),
        ({"type": "managed"}, "type"),
        ({"type": ["custom"]}, "type"),
        ({"type": "default", "credentials": {"client_secret": "x"}}, "credentials"),
        ({"type": "default", "proxy_config": {"proxy_url": "https://p.example"}}, "proxy_config"),
        ({"type": "custom", "credentials": ["x"]}, "credentials"),
        ({"type": "custom", "credentials": "x"}, "credentials"),
        ({"type": "custom", "shared_credentials": "x"}, "shared_credentials"),
        ({"type": "custom", "credentials": {"scopes": 5}}, "credentials.scopes"),
        ({"type": "custom", "surprise": True}, "surprise"),
        ({"type": "custom", "name": 3}, "name"),
        (["type", "custom"], "body"),
    ],
)
def test_invalid_patch_body_is_400_naming_the_field(
    emu: Emulator, client: httpx.Client, body: object, field: str
) -> None:
    """A body outside the documented PATCH shape is a 400 whose errors name the field."""
    response = patch(client, body)
    error = response.json()["error"]
    assert response.status_code == 400
    assert error["slug"] == "AuthConfig_ValidationError"
    assert any(e.startswith(field + ":") for e in error["errors"])
    assert emu.credentials("ac_1")["client_secret"] == SECRET


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b'{"type":"custom"}', "text/plain"),
    ],
)
def test_non_json_body_is_400(client: httpx.Client, content: bytes, content_type: str) -> None:
    """A body that is not JSON, or not sent as application/json, is a 400."""
    response = client.patch(PATH, content=content, headers={"content-type": content_type})
    assert response.status_code == 400
    assert response.json()["error"]["slug"] == "HTTP_BadRequest"


def test_type_mismatch_with_stored_config_is_400(client: httpx.Client) -> None:
    """A PATCH cannot turn a custom auth config into a default one (our reading)."""
    response = patch(client, {"type": "default", "shared_credentials": {"k": "v"}})
    assert response.status_code == 400


def test_default_type_accepts_shared_credentials_and_scopes(
    emu: Emulator, client: httpx.Client
) -> None:
    """A default auth config takes shared_credentials and top-level scopes."""
    emu.add_auth_config("ac_d", type="default")
    body = {"type": "default", "shared_credentials": {"k": "v"}, "scopes": ["a"]}
    assert patch(client, body, "/api/v3/auth_configs/ac_d").status_code == 200
    assert emu.shared_credentials("ac_d") == {"k": "v"}


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_unknown_nanoid_is_404(client: httpx.Client, method: str) -> None:
    """GET or PATCH on an auth config that does not exist is a 404 in the error envelope."""
    body = {"type": "custom", "credentials": {"a": "b"}}
    response = client.request(method, "/api/v3/auth_configs/ac_nope", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["slug"] == "AuthConfig_NotFound"


def test_error_answers_never_echo_secret_values(client: httpx.Client) -> None:
    """Error messages name fields but never repeat a value from the request."""
    response = patch(client, {"type": "default", "credentials": {"client_secret": SECRET}})
    assert response.status_code == 400
    assert SECRET not in response.text


def test_error_envelope_carries_the_request_id_header(client: httpx.Client) -> None:
    """Every answer has x-request-id, and an error's body repeats it."""
    response = patch(client, {})
    assert re.fullmatch(r"req_[0-9a-f]{16}", response.headers["x-request-id"])
    error = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert {"message", "code", "slug", "status"} <= set(error)


# -- auth --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, {"x-api-key": "wrong"}, {"x-api-key": KEY, "x-user-api-key": KEY}, {"x-api-key": ""}],
)
def test_bad_or_ambiguous_auth_is_401(emu: Emulator, headers: dict[str, str]) -> None:
    """Missing, unknown, empty, or both auth headers at once are a 401 HTTP_Unauthorized."""
    response = httpx.get(emu.url + PATH, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["slug"] == "HTTP_Unauthorized"
    assert "wrong" not in response.text


def test_user_api_key_header_is_accepted(emu: Emulator) -> None:
    """x-user-api-key alone authenticates like x-api-key."""
    assert httpx.get(emu.url + PATH, headers={"x-user-api-key": KEY}).status_code == 200


def test_rotated_api_key_makes_the_old_key_401(emu: Emulator) -> None:
    """After set_api_keys the old key gets 401 and the new one works."""
    emu.set_api_keys(["new-key"])
    assert httpx.get(emu.url + PATH, headers={"x-api-key": KEY}).status_code == 401
    assert httpx.get(emu.url + PATH, headers={"x-api-key": "new-key"}).status_code == 200


# -- reads -------------------------------------------------------------------------------------
def test_get_masks_secrets_but_shows_client_id(client: httpx.Client) -> None:
    """GET never shows a secret: only client_id/consumer_key come back readable."""
    response = client.get(PATH)
    body = response.json()
    assert SECRET not in response.text
    assert body["credentials"]["client_id"] == "cid-123"
    assert body["credentials"]["client_secret"] != SECRET
    assert body["shared_credentials"]["api_key"] != SECRET


def test_get_shape_has_status_toolkit_and_last_updated_at(client: httpx.Client) -> None:
    """GET returns id, type, status, toolkit.slug and last_updated_at (no updated_at)."""
    patch(client, {"type": "custom", "name": "renamed"})
    body = client.get(PATH).json()
    assert (body["id"], body["type"], body["status"]) == ("ac_1", "custom", "ENABLED")
    assert (body["name"], body["toolkit"]["slug"]) == ("renamed", "github")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["last_updated_at"])
    assert body["last_updated_at"] >= body["created_at"]
    assert "updated_at" not in body


def add_many(emu: Emulator, count: int, *, disabled: Collection[int] = ()) -> None:
    for i in range(count):
        emu.add_auth_config(
            f"ac_l{i:03d}",
            toolkit="slack" if i % 2 else "github",
            name=f"config {i}",
            enabled=i not in disabled,
        )


def follow(
    client: httpx.Client, params: dict[str, str]
) -> tuple[list[str], list[dict[str, object]]]:
    ids: list[str] = []
    pages = []
    cursor: str | None = None
    while True:
        page = client.get(
            "/api/v3/auth_configs", params={**params, **({"cursor": cursor} if cursor else {})}
        ).json()
        pages.append(page)
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, pages


def test_list_follows_next_cursor_and_hides_disabled(emu: Emulator, client: httpx.Client) -> None:
    """Listing pages by next_cursor (null at the end) and hides disabled configs by default."""
    add_many(emu, 7, disabled={2, 5})
    ids, pages = follow(client, {"limit": "3"})
    assert ids == ["ac_1", "ac_l000", "ac_l001", "ac_l003", "ac_l004", "ac_l006"]
    assert [p["current_page"] for p in pages] == [1, 2]
    assert pages[0]["total_pages"] == 2
    assert pages[0]["total_items"] == 6


def test_list_show_disabled_and_filters(emu: Emulator, client: httpx.Client) -> None:
    """show_disabled=true includes disabled configs; toolkit_slug and search filter."""
    add_many(emu, 4, disabled={1})
    assert len(follow(client, {"show_disabled": "true"})[0]) == 5
    assert follow(client, {"show_disabled": "true", "toolkit_slug": "slack"})[0] == [
        "ac_l001",
        "ac_l003",
    ]
    assert follow(client, {"search": "CONFIG 2"})[0] == ["ac_l002"]
    assert client.get("/api/v3/auth_configs/ac_l001").json()["status"] == "DISABLED"


def test_list_limit_is_capped_at_200(emu: Emulator, client: httpx.Client) -> None:
    """A limit above 200 returns at most 200 items per page."""
    add_many(emu, 230)
    page = client.get("/api/v3/auth_configs", params={"limit": "1000"}).json()
    assert len(page["items"]) == 200
    assert page["next_cursor"] is not None


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "x"}, {"cursor": "!!"}, {"show_disabled": "maybe"}]
)
def test_list_bad_query_is_400(client: httpx.Client, params: dict[str, str]) -> None:
    """A bad limit, cursor or show_disabled is a 400."""
    assert client.get("/api/v3/auth_configs", params=params).status_code == 400


# -- rate limit -------------------------------------------------------------------------------
def test_rate_limit_headers_and_429_with_retry_after(emu: Emulator, client: httpx.Client) -> None:
    """Over the limit the answer is 429 with Retry-After and the documented message body."""
    emu.set_rate_limit(3, window=60)
    remaining = [client.get(PATH).headers["X-RateLimit-Remaining"] for _ in range(3)]
    response = client.get(PATH)
    assert remaining == ["2", "1", "0"]
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit"] == "3"
    assert response.headers["X-RateLimit-Window-Size"] == "60s"
    assert response.json()["message"].startswith("Rate limit exceeded.")


def test_rate_limit_window_resets(emu: Emulator, client: httpx.Client) -> None:
    """A new fixed window starts once the old one ends."""
    emu.set_rate_limit(1, window=0.5)
    assert client.get(PATH).status_code == 200
    assert client.get(PATH).status_code == 429
    wait_until(lambda: client.get(PATH).status_code == 200)


def test_no_rate_headers_without_a_limit(client: httpx.Client) -> None:
    """Without a limit no X-RateLimit headers are sent."""
    assert "X-RateLimit" not in client.get(PATH).headers


# -- faults ----------------------------------------------------------------------------------
def test_status_fault_sends_slug_and_retry_headers(emu: Emulator, client: httpx.Client) -> None:
    """A status fault answers that status, slug, Retry-After, retry-after-ms and x-should-retry."""
    emu.inject(
        Fault(
            status=503, slug="Infra_Down", retry_after="7", retry_after_ms=1500, should_retry=False
        )
    )
    response = client.get(PATH)
    assert response.status_code == 503
    assert response.json()["error"]["slug"] == "Infra_Down"
    assert response.json()["error"]["code"] == 10503
    assert (response.headers["retry-after"], response.headers["retry-after-ms"]) == ("7", "1500")
    assert response.headers["x-should-retry"] == "false"
    assert client.get(PATH).status_code == 200


def test_429_body_shapes(emu: Emulator, client: httpx.Client) -> None:
    """The message and code_only 429 variants have the documented bodies; code_only no headers."""
    emu.set_rate_limit(100)
    emu.inject(Fault(status=429, body_shape="message"))
    emu.inject(Fault(status=429, body_shape="code_only"))
    first, second = client.get(PATH), client.get(PATH)
    assert first.json()["message"].startswith("Rate limit exceeded.")
    assert second.json() == {"code": 10429, "slug": "HTTP_TooManyRequests"}
    assert not {"retry-after", "x-ratelimit", "x-request-id"} & set(second.headers)


def test_fault_for_one_nanoid_spares_others(emu: Emulator, client: httpx.Client) -> None:
    """A fault queued for one auth config does not touch requests on another."""
    emu.add_auth_config("ac_2")
    emu.inject(Fault(status=500), nanoid="ac_1", times=2)
    assert client.get("/api/v3/auth_configs/ac_2").status_code == 200
    assert [client.get(PATH).status_code for _ in range(3)] == [500, 500, 200]


def test_forever_fault_lasts_until_cleared(emu: Emulator, client: httpx.Client) -> None:
    """times=None repeats a fault until clear_faults."""
    emu.inject(Fault(status=502), times=None)
    assert [client.get(PATH).status_code for _ in range(3)] == [502] * 3
    emu.clear_faults()
    assert client.get(PATH).status_code == 200


def test_5xx_fault_without_apply_leaves_state_and_with_apply_changes_it(
    emu: Emulator, client: httpx.Client
) -> None:
    """apply=False loses the PATCH; apply=True applies it and still answers the error."""
    emu.inject(Fault(status=500))
    patch(client, {"type": "custom", "credentials": {"client_secret": "lost"}})
    assert emu.credentials("ac_1")["client_secret"] == SECRET
    emu.inject(Fault(status=500, apply=True))
    assert (
        patch(client, {"type": "custom", "credentials": {"client_secret": "kept"}}).status_code
        == 500
    )
    assert emu.credentials("ac_1")["client_secret"] == "kept"
    assert [e.applied for e in emu.patches("ac_1")] == [False, True]


def test_delay_fault_answers_late_but_applies_at_once(emu: Emulator, client: httpx.Client) -> None:
    """A delay postpones the answer; the change is applied on receipt, so a timeout can hide it."""
    emu.inject(Fault(delay=0.2))
    start = time.monotonic()
    assert client.get(PATH).status_code == 200
    assert time.monotonic() - start >= 0.2
    emu.inject(Fault(delay=2.0))
    with pytest.raises(httpx.ReadTimeout):
        client.patch(
            PATH, json={"type": "custom", "credentials": {"client_secret": "late"}}, timeout=0.1
        )
    assert emu.credentials("ac_1")["client_secret"] == "late"


def test_drop_fault_closes_without_answer(emu: Emulator, client: httpx.Client) -> None:
    """A drop closes the connection unanswered: httpx raises a protocol or read error."""
    emu.inject(Fault(drop=True))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(PATH)
    assert emu.journal[-1].status is None
    assert client.get(PATH).status_code == 200


def test_hang_fault_never_answers(emu: Emulator, client: httpx.Client) -> None:
    """A hang answers nothing until the client gives up with a read timeout."""
    emu.inject(Fault(hang=True))
    with pytest.raises(httpx.ReadTimeout):
        client.get(PATH, timeout=0.2)
    assert client.get(PATH).status_code == 200


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault(status=502, body=b"<html>Bad Gateway</html>", content_type="text/html"), 502),
        (Fault(body=b'{"success": tr'), 200),
    ],
)
def test_garbage_body_fault(client: httpx.Client, emu: Emulator, fault: Fault, status: int) -> None:
    """A body fault sends that raw body (HTML or cut-off JSON) with the given status."""
    emu.inject(fault)
    response = client.get(PATH)
    assert response.status_code == status
    assert response.content == fault.body
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_drip_fault_sends_the_whole_body_slowly(emu: Emulator, client: httpx.Client) -> None:
    """A drip sends a complete, valid body in small chunks with pauses."""
    emu.inject(Fault(status=503, drip=0.01))
    start = time.monotonic()
    response = client.get(PATH)
    assert time.monotonic() - start >= 0.05
    assert response.json()["error"]["status"] == 503


def test_seeded_random_mix_is_reproducible(emu: Emulator, client: httpx.Client) -> None:
    """The same seed and the same requests give the same faults; another seed differs."""
    mix = FaultMix(p_5xx=0.2, p_429=0.1, p_drop=0.1, p_garbage=0.1)

    def run(seed: int) -> list[str]:
        emu.set_random_faults(mix, seed=seed)
        out = []
        for _ in range(30):
            try:
                out.append(str(client.get(PATH).status_code))
            except httpx.TransportError as exc:
                out.append(type(exc).__name__)
        return out

    first = run(7)
    assert run(7) == first
    assert run(8) != first
    assert {"200", "429"} <= set(first)
    emu.set_random_faults(None)
    assert client.get(PATH).status_code == 200


def test_fault_mix_rejects_impossible_probabilities() -> None:
    """Probabilities outside [0, 1] or summing above 1 are refused."""
    with pytest.raises(ValueError, match="probabilities"):
        FaultMix(p_5xx=0.7, p_drop=0.6)


# -- journal ---------------------------------------------------------------------------------
def test_journal_records_field_names_never_values(emu: Emulator, client: httpx.Client) -> None:
    """The journal keeps field names per section and the auth header used, never values."""
    client.patch(
        PATH, json={"type": "custom", "credentials": {"client_secret": SECRET, "client_id": "x"}}
    )
    (entry,) = emu.patches("ac_1", status=200)
    assert entry.fields == {"credentials": ["client_id", "client_secret"]}
    assert entry.body_keys == ("credentials", "type")
    assert (entry.auth_header, entry.applied, entry.fault) == ("x-api-key", True, None)
    assert SECRET not in repr(emu.journal)
    emu.reset_journal()
    assert emu.journal == []


# -- HTTP plumbing ---------------------------------------------------------------------------
def raw_exchange(emu: Emulator, payload: bytes, *, until_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if not until_close and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def test_keep_alive_serves_several_requests_on_one_connection(emu: Emulator) -> None:
    """Two requests on one connection get two answers; Connection: close then closes it."""
    req = f"GET {PATH} HTTP/1.1\r\nhost: x\r\nx-api-key: {KEY}\r\n\r\n".encode()
    last = req.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n")
    answer = raw_exchange(emu, req + last)
    assert answer.count(b"HTTP/1.1 200 OK") == 2


def test_malformed_http_is_400_and_closed(emu: Emulator) -> None:
    """A request h11 cannot parse gets a 400 and the connection is closed."""
    assert raw_exchange(emu, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_oversized_body_is_413(emu: Emulator) -> None:
    """A body over 1 MiB is refused with 413 and the connection closed."""
    size = 2 << 20
    head = f"PATCH {PATH} HTTP/1.1\r\nhost: x\r\ncontent-length: {size}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(head + b"x" * (1 << 20) + b"x" * 70000)
        assert sock.recv(65536).startswith(b"HTTP/1.1 413")


def test_stop_releases_hung_connections_and_threads(emu: Emulator) -> None:
    """stop() ends hung requests at once and leaves no thread behind."""
    emu.inject(Fault(hang=True))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(emu.url + PATH, headers={"x-api-key": KEY}, timeout=30)
        except httpx.TransportError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: len(emu.journal) == 1)
    emu.stop()
    caller.join(5)
    assert not caller.is_alive()
    assert errors
    assert not [t for t in threading.enumerate() if t.name == "composio-emulator"]


def test_url_needs_a_started_emulator() -> None:
    """url raises until start(); a second start() raises."""
    emulator = Emulator()
    with pytest.raises(RuntimeError):
        _ = emulator.url
    with emulator, pytest.raises(RuntimeError):
        emulator.start()


def test_start_on_a_busy_port_raises_and_leaves_no_thread(emu: Emulator) -> None:
    """Starting on a port already in use raises OSError and leaves no thread behind."""
    before = threading.active_count()
    with pytest.raises(OSError):
        Emulator().start(port=emu.port)
    assert threading.active_count() == before


# -- admin endpoints and the command line ----------------------------------------------------
def test_admin_endpoints_control_a_running_emulator(emu: Emulator) -> None:
    """The /_emulator/ endpoints create configs, read raw secrets, set faults, read the journal."""
    with httpx.Client(base_url=emu.url + "/_emulator", timeout=5) as admin:
        assert (
            admin.post(
                "/auth_configs", json={"id": "ac_x", "credentials": {"client_secret": "a"}}
            ).status_code
            == 201
        )
        assert (
            admin.post("/faults", json={"status": 503, "nanoid": "ac_x", "times": 1}).status_code
            == 200
        )
        api = {"x-api-key": KEY}
        assert httpx.get(emu.url + "/api/v3/auth_configs/ac_x", headers=api).status_code == 503
        assert admin.get("/journal").json()["entries"][-1]["status"] == 503
        assert admin.delete("/journal").status_code == 200 and emu.journal == []
        assert admin.get("/auth_configs/ac_x/raw").json()["credentials"] == {"client_secret": "a"}
        assert admin.post("/rate_limit", json={"limit": 5}).status_code == 200
        assert httpx.get(emu.url + PATH, headers=api).headers["X-RateLimit"] == "5"
        assert admin.post("/api_keys", json={"keys": ["k2"]}).status_code == 200
        assert httpx.get(emu.url + PATH, headers=api).status_code == 401
        assert (
            admin.post("/random_faults", json={"mix": {"p_5xx": 1.0}, "seed": 1}).status_code == 200
        )
        assert admin.delete("/faults").status_code == 200
        assert admin.post("/faults", json={"bogus": 1}).status_code == 400
        assert admin.get("/auth_configs/ac_none/raw").status_code == 404
        assert admin.get("/health").json() == {"ok": True}


def test_module_command_serves_and_stops_on_sigterm() -> None:
    """python -m rotator.devkit.emulator serves on the printed URL and exits 0 on SIGTERM."""
    cmd = [
        sys.executable,
        "-m",
        "rotator.devkit.emulator",
        "--port",
        "0",
        "--api-key",
        "k1",
        "--seed-config",
        "ac_s",
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        match = re.search(r"http://\S+", proc.stdout.readline())
        assert match, "the emulator did not print its URL"
        response = httpx.get(
            match.group(0) + "/api/v3/auth_configs/ac_s", headers={"x-api-key": "k1"}
        )
        assert response.json()["credentials"]["client_id"] == "seed-client-id"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out


# -- where it listens, and the admin token -------------------------------------------------------
ADMIN_TOKEN = "admin-token-for-the-bind-tests"


def _module(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "rotator.devkit.emulator", "--port", "0", "--api-key", KEY, *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--host", "0.0.0.0"], "refusing to listen on '0.0.0.0': not a loopback address"),
        (["--host", "::"], "refusing to listen on '::': not a loopback address"),
        (["--host", "192.168.1.20"], "refusing to listen on '192.168.1.20'"),
        (["--host", ""], "refusing to listen on ''"),
        (["--host", "0.0.0.0", "--admin-token", ADMIN_TOKEN], "pass --allow-remote"),
        (["--host", "0.0.0.0", "--allow-remote"], "--allow-remote needs --admin-token"),
        (["--allow-remote", "--admin-token", "short"], "shorter than 16 characters"),
    ],
)
def test_module_refuses_a_bind_beyond_loopback_with_exit_2_and_one_line(
    args: list[str], says: str
) -> None:
    """A non-loopback --host, or --allow-remote without a long enough token: exit 2, one line."""
    with _module(*args) as proc:
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"the emulator accepted {args} and kept serving", pytrace=False)
    assert proc.returncode == 2, (out, err)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("python -m rotator.devkit.emulator: "), err
    assert says in err
    assert "Traceback" not in err and ADMIN_TOKEN not in err


def test_emulator_start_refuses_a_bind_beyond_loopback_and_leaves_no_thread() -> None:
    """The Python API refuses the same binds (ValueError) before any thread or socket exists."""
    before = threading.active_count()
    with pytest.raises(ValueError, match="not a loopback address"):
        Emulator().start("0.0.0.0")
    with pytest.raises(ValueError, match="needs --admin-token"):
        Emulator(allow_remote=True).start("0.0.0.0")
    assert threading.active_count() == before


def _serve(proc: subprocess.Popen[str]) -> int:
    """The port the emulator printed it listens on."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://\S+:(\d+)$", line.strip())
    assert match, f"the emulator did not print its URL: {line!r}"
    return int(match.group(1))


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_module_listens_on_loopback_with_open_admin_endpoints(host: str) -> None:
    """On loopback no flag is needed and the admin endpoints answer without a token."""
    with _module("--host", host) as proc:
        port = _serve(proc)
        base = f"http://127.0.0.1:{port}"
        created = httpx.post(f"{base}/_emulator/auth_configs", json={"id": "ac_l"}, timeout=5)
        assert created.status_code == 201
        assert httpx.get(f"{base}/_emulator/journal", timeout=5).status_code == 200
        _stop(proc)


def test_module_allow_remote_requires_the_admin_token_on_admin_endpoints() -> None:
    """--host 0.0.0.0 --allow-remote: admin endpoints 401 without the token, 403 with a wrong
    one, 200 with it; health and the API (with its API key) stay as they were."""
    env = {**os.environ, "EMULATOR_ADMIN_TOKEN": ADMIN_TOKEN}
    with _module("--host", "0.0.0.0", "--allow-remote", "--seed-config", "ac_r", env=env) as proc:
        port = _serve(proc)
        base = f"http://127.0.0.1:{port}/_emulator"
        with httpx.Client(timeout=5) as http:
            for method, path in [
                ("GET", "/auth_configs/ac_r/raw"),
                ("POST", "/api_keys"),
                ("GET", "/journal"),
                ("DELETE", "/faults"),
            ]:
                bare = http.request(method, base + path, json={"keys": ["stolen"]})
                assert bare.status_code == 401, (method, path)
                assert "seed-secret" not in bare.text
                wrong = http.request(
                    method, base + path, headers={"x-emulator-admin-token": ADMIN_TOKEN[:-1]}
                )
                assert wrong.status_code == 403, (method, path)
                assert "seed-secret" not in wrong.text
            raw = http.get(
                base + "/auth_configs/ac_r/raw", headers={"x-emulator-admin-token": ADMIN_TOKEN}
            )
            assert raw.json()["credentials"]["client_secret"] == "seed-secret"
            bearer = http.get(base + "/journal", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
            assert bearer.status_code == 200
            assert http.get(base + "/health").json() == {"ok": True}
            api = http.get(
                f"http://127.0.0.1:{port}/api/v3/auth_configs/ac_r", headers={"x-api-key": KEY}
            )
            assert api.status_code == 200, "the refused /api_keys call changed nothing"
        _stop(proc)
