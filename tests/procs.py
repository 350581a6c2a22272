"""Real Celery worker and beat subprocesses for the service tests, and polling with deadlines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import Stack

CELERY_ENV = {
    "ROTATOR_RETRY_IN_CALL_ATTEMPTS": "1",
    "ROTATOR_RETRY_BASE_DELAY": "0.1",
    "ROTATOR_RETRY_MAX_DELAY": "2",
    "ROTATOR_LOCK_TTL": "5",
    "ROTATOR_VISIBILITY_TIMEOUT": "12",
    "ROTATOR_SWEEP_INTERVAL": "1",
    "ROTATOR_RESYNC_INTERVAL": "0",
    "ROTATOR_TASK_MAX_RETRIES": "3",
    "ROTATOR_LOG_FORMAT": "json",
}


def wait_until(what: str, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for: {what}", pytrace=False)


class Procs:
    """Start rotator workers/beats as subprocesses; stop them all at the end of the test."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env = {**os.environ, **env}
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = self.logdir / f"{name}.log"
        self.logs.append(log)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "rotator", *argv],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def worker(self, name: str, concurrency: int = 8) -> subprocess.Popen[bytes]:
        return self._start(name, ["worker", "-c", str(concurrency), "-n", f"{name}@%h"])

    def beat(self, name: str) -> subprocess.Popen[bytes]:
        return self._start(name, ["beat", "--schedule", str(self.logdir / f"{name}.db")])

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@pytest.fixture
def celery_env(stack: Stack) -> dict[str, str]:
    return {**stack.env, **CELERY_ENV}


@pytest.fixture
def procs(celery_env: dict[str, str], tmp_path: Path) -> Iterator[Procs]:
    p = Procs(celery_env, tmp_path)
    try:
        yield p
    finally:
        p.stop_all()


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m rotator ARGS`` with ``env``; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "rotator", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
