"""Long operations on a real worker: on a real pseudo-terminal a live progress view, then one
summary line and a row per failure; off a terminal progress lines on stderr; --json every row."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

from rotator.console.progress import summary_line
from rotator.core.models import Outcome
from rotator.core.states import Result
from rotator.devkit.emulator import Fault
from tests.helpers import Stack
from tests.procs import Procs, assert_clean_output, assert_cli_ok, run_cli

FAILED_LINE = r"rotation\.failed"
N = 300
BROKEN = ("ac_pg0007", "ac_pg0213")


def _without_size(environ: os._Environ[str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in ("COLUMNS", "LINES")}


def run_in_pty(env: dict[str, str], *args: str, timeout: float = 400) -> tuple[int, str]:
    """``python -m rotator ARGS`` with stdin, stdout and stderr on a 120x40 pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rotator", *args],
        # the pty's own size: COLUMNS/LINES (which pytest-xdist's workers set) would override it
        env={**_without_size(os.environ), **env, "TERM": "xterm-256color"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


def _seed(stack: Stack) -> list[str]:
    ids = [f"ac_pg{i:04d}" for i in range(N)]
    for nanoid in ids:
        stack.put(nanoid, {"credentials": {"client_secret": f"sec-{nanoid}"}})
    for nanoid in BROKEN:
        stack.emu.inject(
            Fault(status=400, slug="AuthConfig_ValidationError"), nanoid=nanoid, times=None
        )
    return ids


def test_summary_line_counts_by_outcome() -> None:
    outcomes = [
        Outcome(auth_config_id=f"a{i}", result=Result.SUCCEEDED, reason="") for i in range(3)
    ]
    outcomes.append(Outcome(auth_config_id="b", result=Result.FAILED, reason=""))
    assert summary_line(outcomes, 2.04) == "4 auth configs in 2.0s: 3 succeeded, 1 failed"


def test_300_configs_on_a_terminal_fit_40_lines_and_name_both_failures(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """rotate --all --wait on a pty: at most 40 lines, the summary, both failures named with
    status and slug, exit 1; then off a terminal: progress lines on stderr, and --json every
    row."""
    _seed(stack)
    procs.worker("w1", concurrency=8)
    code, out = run_in_pty(celery_env, "rotate", "--all", "--wait", "--timeout", "300")
    assert code == 1, out[-3000:]
    lines = out.count("\n")
    print(f"terminal lines: {lines}")
    assert lines <= 40, out
    assert f"{N} auth configs in " in out and f"{N - 2} succeeded, 2 failed" in out
    for nanoid in BROKEN:
        assert nanoid in out
    assert "AuthConfig_ValidationEr" in out
    assert "ac_pg0100" not in out  # a success is not a row
    assert_clean_output(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out))

    for nanoid in ("ac_pg0001", "ac_pg0002"):  # new versions, so the next run has work
        stack.write(nanoid, {"credentials": {"client_secret": f"sec-{nanoid}-2"}})
    res = run_cli(celery_env, "rotate", "--all", "--wait", "--json", timeout=400)
    assert_cli_ok(res, 1)
    rows = json.loads(res.stdout)
    assert len(rows) == N and sum(r["result"] == "failed" for r in rows) == 2
    assert "\r" not in res.stderr and "queued 300 rotation(s)" in res.stderr
    procs.assert_clean(allowed=[FAILED_LINE])
