"""Subprocesses in their own process groups: launching rotator commands and stopping whole groups.

The one place the demo, the local servers and the benchmark start and stop what they spawn.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["launch_rotator", "signal_group", "stop_groups"]


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a whole process group; one that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_groups(procs: Iterable[subprocess.Popen[bytes] | subprocess.Popen[str]], *,
                grace: float) -> None:  # fmt: skip
    """SIGTERM each group, wait up to ``grace`` s for its leader, SIGKILL what is left."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        signal_group(proc.pid, signal.SIGKILL)  # stragglers of the group, if any


def launch_rotator(
    argv: list[str], *, env: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """``python -m rotator ARGV`` (a worker, a beat) in its own process group; output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rotator", *argv],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
