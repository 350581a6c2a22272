"""Hardening: Redis AUTH, plain-http refusal, TLS verification on by default."""

from __future__ import annotations

import http.server
import io
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from rotator.core.errors import ConfigError, PermanentError
from rotator.devkit.sandbox import RedisServer
from rotator.runtime import build_runtime
from rotator.settings.load import load_settings
from tests.faults_support import Workers
from tests.helpers import Stack
from tests.leakcheck import assert_no_leak, dump_all_dbs
from tests.procs import CELERY_ENV, assert_cli_ok, run_cli
from tests.tls_support import self_signed

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
    stack: Stack, auth_redis: RedisServer, workers: Workers, log_stream: io.StringIO
) -> None:
    """With `redis://:password@host` rotations work in process, inline from the CLI and on a
    worker through the queue; a wrong password fails clearly. The password (in any encoding)
    is in no run's output: the in-process logs, every CLI run, the worker's log, nor Redis."""
    url = f"redis://:{PASSWORD}@127.0.0.1:{auth_redis.port}/0"
    env = {**stack.env, "ROTATOR_REDIS_URL": url}
    rt = build_runtime(load_settings(env))
    try:
        stack.put("ac_auth1", {"credentials": {"client_secret": "sec-auth1"}})
        assert rt.service.rotate("ac_auth1").result == "succeeded"
        assert rt.state.get_applied("ac_auth1") is not None
    finally:
        rt.close()
    stack.put("ac_auth2", {"credentials": {"client_secret": "sec-auth2"}})
    stack.put("ac_auth3", {"credentials": {"client_secret": "sec-auth3"}})
    wrong = f"redis://:not-the-{PASSWORD}@127.0.0.1:{auth_redis.port}/0"
    celery_env = {**env, **CELERY_ENV}
    procs = workers.group(celery_env)
    procs.worker("w1", concurrency=2)
    runs = [
        (env, 0, ("rotate", "ac_auth2", "--inline")),
        (celery_env, 0, ("rotate", "ac_auth3", "--wait", "--json")),
        (env, 0, ("health",)),
        (env, 0, ("status",)),
        (env, 0, ("check",)),
        ({**stack.env, "ROTATOR_REDIS_URL": wrong}, 1, ("health",)),
    ]
    cli = []
    for run_env, code, args in runs:
        res = run_cli(run_env, *args)
        assert_cli_ok(res, code)
        cli.append(f"$ rotator {' '.join(args)}\n{res.stdout}\n{res.stderr}")
    assert "unhealthy: StateUnavailable" in cli[-1]
    assert stack.emu.credentials("ac_auth3") == {"client_secret": "sec-auth3"}
    procs.assert_clean()
    sources = {
        "in-process logs": log_stream.getvalue(),
        "cli": "\n".join(cli),
        "worker": procs.output(),
        "redis": dump_all_dbs(url),
    }
    markers = {
        "in-process logs": "ac_auth1",
        "cli": "ac_auth2",
        "worker": "ac_auth3",
        "redis": "ac_auth1",
    }
    assert_no_leak(sources, [PASSWORD], markers)


def test_plain_http_to_a_remote_composio_is_refused(stack: Stack) -> None:
    """http:// is allowed on loopback only; elsewhere start-up stops with exit code 2."""
    env = {**stack.env, "COMPOSIO_BASE_URL": "http://composio.example.com"}
    with pytest.raises(ConfigError, match="https"):
        build_runtime(load_settings(env))
    res = run_cli(env, "status")
    assert_cli_ok(res, 2)
    assert "COMPOSIO_BASE_URL" in res.stderr + res.stdout


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate: (base URL, CA file)."""
    cert, key = self_signed(tmp_path, "127.0.0.1", "IP:127.0.0.1")

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
    """A self-signed Composio fails verification with a permanent error that names the setting
    to fix (no retry makes a CA trusted); with ROTATOR_COMPOSIO_CACERT it is trusted."""
    url, ca = tls_server
    env = {**stack.env, "COMPOSIO_BASE_URL": url}
    rt = build_runtime(load_settings(env))
    try:
        with pytest.raises(PermanentError, match="certificate not trusted; set ROTATOR_COMPOSIO"):
            rt.composio.ping()
    finally:
        rt.close()
    rt = build_runtime(load_settings({**env, "ROTATOR_COMPOSIO_CACERT": str(ca)}))
    try:
        assert rt.composio.ping().status == 200
    finally:
        rt.close()
