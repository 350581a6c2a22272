"""Hardening: Redis AUTH, plain-http refusal, TLS verification on by default."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from rotator.config import load_settings
from rotator.errors import ConfigError
from rotator.runtime import build_runtime
from rotator.sandbox import RedisServer
from tests.helpers import Stack
from tests.procs import run_cli

PASSWORD = "redis-AUTH-pass-123"


@pytest.fixture
def auth_redis() -> Iterator[RedisServer]:
    """A dedicated redis-server that requires a password."""
    server = RedisServer().start()
    with redis.Redis.from_url(server.url) as client:
        client.config_set("requirepass", PASSWORD)
    yield server
    server.close()


def test_redis_auth_is_supported_and_the_password_never_printed(
    stack: Stack, auth_redis: RedisServer
) -> None:
    """With `redis://:password@host` rotations work; a wrong password fails clearly."""
    url = f"redis://:{PASSWORD}@127.0.0.1:{auth_redis.port}/0"
    rt = build_runtime(load_settings({**stack.env, "ROTATOR_REDIS_URL": url}))
    try:
        stack.put("ac_auth1", {"credentials": {"client_secret": "sec-auth1"}})
        assert rt.service.rotate("ac_auth1").result == "succeeded"
        assert rt.state.get_applied("ac_auth1") is not None
    finally:
        rt.close()
    wrong = f"redis://:not-the-{PASSWORD}@127.0.0.1:{auth_redis.port}/0"
    res = run_cli({**stack.env, "ROTATOR_REDIS_URL": wrong}, "health")
    assert res.returncode == 1 and "StateUnavailable" in res.stdout
    assert PASSWORD not in res.stdout + res.stderr


def test_plain_http_to_a_remote_composio_is_refused(stack: Stack) -> None:
    """http:// is allowed on loopback only; elsewhere start-up stops with exit code 2."""
    env = {**stack.env, "COMPOSIO_BASE_URL": "http://composio.example.com"}
    with pytest.raises(ConfigError, match="https"):
        build_runtime(load_settings(env))
    res = run_cli(env, "status")
    assert res.returncode == 2 and "COMPOSIO_BASE_URL" in res.stderr + res.stdout


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate: (base URL, CA file)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"items": [], "next_cursor": null}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()
    thread.join()


def test_tls_is_verified_by_default_and_a_custom_ca_is_honoured(
    stack: Stack, tls_server: tuple[str, Path]
) -> None:
    """A self-signed Composio fails verification; with ROTATOR_COMPOSIO_CACERT it is trusted."""
    url, ca = tls_server
    env = {**stack.env, "COMPOSIO_BASE_URL": url}
    rt = build_runtime(load_settings(env))
    try:
        info = rt.composio.ping()
        assert info.status is None
    finally:
        rt.close()
    rt = build_runtime(load_settings({**env, "ROTATOR_COMPOSIO_CACERT": str(ca)}))
    try:
        assert rt.composio.ping().status == 200
    finally:
        rt.close()
