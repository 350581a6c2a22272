"""A bad setting stops every command with exit 2 and one line naming it, before any connection.

The real ``rotator`` console script runs in a subprocess with a clean environment. No server is
needed: each command must stop before it connects. As a safety net, every address points at a
closed loopback port, and so does ``CELERY_BROKER_URL``, so a regression (Celery swallowing the
error and falling back to its default broker) can never reach a broker running on this machine.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROTATOR = str(Path(sys.executable).parent / "rotator")
COMMANDS = [
    ("worker",),
    ("worker", "-c", "2"),
    ("beat",),
    ("health",),
    ("rotate", "--inline", "ac_x"),
    ("rotate", "ac_x"),
    ("status",),
]
# (variable, value, the exact problem line)
BAD = [
    ("ROTATOR_SWEEP_INTERVAL", "nan", "ROTATOR_SWEEP_INTERVAL='nan' is not a finite number"),
    (
        "ROTATOR_VISIBILITY_TIMEOUT",
        "1e308",
        "ROTATOR_VISIBILITY_TIMEOUT='1e308' must be at least 6 and at most 604800 s",
    ),
    (
        "ROTATOR_RATE_LIMIT",
        "5/s",
        "ROTATOR_RATE_LIMIT allows 5 requests per period, fewer than ROTATOR_RATE_LIMIT_BURST=10: "
        "raise the limit or lower the burst",
    ),
    (
        "ROTATOR_WORKER_CONCURRENCY",
        "0",
        "ROTATOR_WORKER_CONCURRENCY='0' must be at least 1 and at most 1024",
    ),
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, name: str, value: str) -> dict[str, str]:
    port = _closed_port()
    return {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "VAULT_ADDR": f"http://127.0.0.1:{port}",
        "VAULT_TOKEN": "dev-token-for-config-tests",
        "COMPOSIO_API_KEY": "ck_config_tests",
        "COMPOSIO_BASE_URL": f"http://127.0.0.1:{port}",
        "ROTATOR_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0",
        "ROTATOR_LOG_FORMAT": "json",
        name: value,
    }


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
@pytest.mark.parametrize(("name", "value", "line"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_number_stops_the_command_with_exit_2_and_one_line(
    tmp_path: Path, command: tuple[str, ...], name: str, value: str, line: str
) -> None:
    """Exit 2; stderr is exactly one line naming the problem; no
    traceback, nothing on stdout, no worker or beat started."""
    try:
        res = subprocess.run(
            [ROTATOR, *command],
            env=_env(tmp_path, name, value),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`rotator {' '.join(command)}` did not stop on {name}={value}: {exc.stderr!r}")
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.splitlines() == [f"rotator: invalid configuration: {line}"]
    assert res.stdout == ""
