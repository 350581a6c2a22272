"""Run the ``rotator`` CLI in a subprocess and measure its peak memory (RSS), for bomb tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measured", "run_cli_measured"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float  # the child's own peak RSS (``ru_maxrss`` from ``wait4``)
    seconds: float
    killed: str | None  # why the child was killed, if it was


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


def run_cli_measured(
    env: dict[str, str], *args: str, timeout: float = 60, ceiling_mb: float = 1500
) -> Measured:
    """``python -m rotator ARGS``; kill it past ``timeout`` s or ``ceiling_mb`` of RSS (so a
    regression fails the test instead of taking the machine's memory)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rotator", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda n=n, f=f: out.__setitem__(n, f.read()), daemon=True)
        for n, f in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    killed = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if killed is None and _rss_mb(proc.pid) > ceiling_mb:
            killed = f"RSS passed {ceiling_mb:.0f} MB"
            proc.kill()
        elif killed is None and time.monotonic() - started > timeout:
            killed = f"still running after {timeout:.0f} s"
            proc.kill()
        time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(timeout=10)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    return Measured(
        returncode=proc.returncode,
        stdout=out.get("stdout", ""),
        stderr=out.get("stderr", ""),
        peak_mb=usage.ru_maxrss / 1024,
        seconds=time.monotonic() - started,
        killed=killed,
    )
