"""Real Celery worker and beat subprocesses for the service tests, and polling with deadlines."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from tests.helpers import Stack

# Shrunk settings for the service tests, each safe for the reason given. They keep the suite
# fast; the fleet reliability tests (test_liveness, test_breaker_fleet, test_sentinel) drop them
# and run with the shipped defaults.
CELERY_ENV = {
    # One PATCH per delivery: every transient failure goes back to the broker with a countdown,
    # so the tests see Celery retries (the path under test), never in-call ones.
    "ROTATOR_RETRY_IN_CALL_ATTEMPTS": "1",
    # Backoff and countdown cap: only how long a test waits (a held countdown is renewed by
    # the worker's liveness timer, so no rule ties it to the visibility timeout any more).
    "ROTATOR_RETRY_BASE_DELAY": "0.1",
    "ROTATOR_RETRY_MAX_DELAY": "2",
    # Renewed every TTL / 3 by the holder (rotator.state.lock.KEEPER) and before the PATCH;
    # shorter than the 30 s default so a SIGKILLed worker's lock is gone sooner in a test.
    "ROTATOR_LOCK_TTL": "5",
    # A liveness timeout: live workers renew held messages every 2 s (12 / 6), so nothing a
    # live worker holds is redelivered; short so a SIGKILLed worker's task comes back sooner.
    # The fleet reliability tests (tests/fleet/test_liveness.py) run with the 30 s default.
    "ROTATOR_VISIBILITY_TIMEOUT": "12",
    # The floor config accepts; RedBeat's lock timeout is then its 10 s floor.
    "ROTATOR_SWEEP_INTERVAL": "1",
    # No periodic forced re-sync: a test counts PATCHes and would see extra ones.
    "ROTATOR_RESYNC_INTERVAL": "0",
    # Enough retries for the injected faults (at most two in a row per config outside the
    # fault suite, which raises it per test); dead-lettering after three is itself tested.
    "ROTATOR_TASK_MAX_RETRIES": "3",
    "ROTATOR_LOG_FORMAT": "json",
}

_LEVEL_WORD = re.compile(r"\b(ERROR|CRITICAL)\b")


def _incidents(text: str) -> list[str]:
    """Every traceback (with the lines that belong to it) and every ERROR/CRITICAL line."""
    found: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        try:
            parsed = json.loads(line) if line.startswith("{") else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            level = str(parsed.get("level", "")).lower()
            if level in ("error", "critical") or "Traceback" in line:
                found.append(line)
            continue
        if "Traceback" in line:
            block = [line]
            while i < len(lines) and (lines[i][:1] in (" ", "\t") or not lines[i].strip()):
                block.append(lines[i])
                i += 1
            if i < len(lines):
                block.append(lines[i])  # the exception line that ends the traceback
                i += 1
            found.append("\n".join(block))
        elif _LEVEL_WORD.search(line):
            found.append(line)
    return found


def assert_clean_output(text: str, allowed: Iterable[str] = ()) -> None:
    """Fail if ``text`` (process output) holds a traceback or an ERROR/CRITICAL line (plain or
    JSON ``level``) that no regex in ``allowed`` matches: a crash, however it is worded."""
    patterns = [re.compile(a) for a in allowed]
    unexpected = [
        incident for incident in _incidents(text) if not any(p.search(incident) for p in patterns)
    ]
    if unexpected:
        shown = "\n---\n".join(u[:2000] for u in unexpected[:5])
        pytest.fail(f"{len(unexpected)} unexpected traceback/ERROR line(s):\n{shown}", False)


def assert_cli_ok(
    res: subprocess.CompletedProcess[str], code: int = 0, allowed: Iterable[str] = ()
) -> None:
    """A CLI run exited with ``code`` and printed no unexpected traceback or ERROR line."""
    output = f"{res.stdout}\n{res.stderr}"
    assert res.returncode == code, f"exit {res.returncode}, wanted {code}:\n{output}"
    assert_clean_output(output, allowed)


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
        self.killed: set[int] = set()
        self.names: dict[int, str] = {}
        self.log_of: dict[int, Path] = {}

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
        self.names[proc.pid] = name
        self.log_of[proc.pid] = log
        return proc

    def worker(self, name: str, concurrency: int = 8) -> subprocess.Popen[bytes]:
        return self._start(name, ["worker", "-c", str(concurrency), "-n", f"{name}@%h"])

    def beat(self, name: str) -> subprocess.Popen[bytes]:
        return self._start(name, ["beat", "--schedule", str(self.logdir / f"{name}.db")])

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL a worker or beat (its whole process group): a crash, as the tests intend."""
        self.killed.add(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def assert_clean(self, allowed: Iterable[str] = ()) -> None:
        """Stop every process (SIGTERM), then require a clean exit (0) of each one the test did
        not SIGKILL (-9 for those), and no unexpected traceback/ERROR line in any output."""
        self.stop_all()
        codes = {self.names[p.pid]: p.returncode for p in self.procs}
        for proc in self.procs:
            wanted = -signal.SIGKILL if proc.pid in self.killed else 0
            name = self.names[proc.pid]
            assert proc.returncode == wanted, (
                f"{name} exited {proc.returncode}, not {wanted}: {codes}"
            )
        assert_clean_output(self.output(), allowed)

    def unfinished(self, proc: subprocess.Popen[bytes]) -> set[str]:
        """Task ids ``proc`` logged as received but never as succeeded, retried or failed: the
        ones it was running (or held) when it died."""
        text = self.log_of[proc.pid].read_text(errors="replace")
        received = set(re.findall(r"rotator\.rotate(?:_batch)?\[([0-9a-f-]+)\] received", text))
        done = re.findall(
            r"rotator\.rotate(?:_batch)?\[([0-9a-f-]+)\] (?:succeeded|retry|raised)", text
        )
        return received - set(done)

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
    env: dict[str, str], *args: str, timeout: float = 60, module: bool = True
) -> subprocess.CompletedProcess[str]:
    """``python -m rotator ARGS`` (``module=False``: ``python ARGS``) with ``env``; output
    captured as text."""
    return subprocess.run(
        [sys.executable, *(["-m", "rotator"] if module else []), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def send_rotate(env: dict[str, str], nanoid: str) -> dict[str, object]:
    """What another service does: ``send_task("rotator.rotate", [nanoid])`` from a process of
    its own with ``env``; the task's result (waited for up to 60 s)."""
    code = (
        "import json, sys\n"
        "from rotator.worker.app import ROTATE_TASK, app\n"
        "print(json.dumps(app.send_task(ROTATE_TASK, args=[sys.argv[1]]).get(timeout=60)))\n"
    )
    res = run_cli(env, "-c", code, nanoid, timeout=90, module=False)
    assert res.returncode == 0, res.stdout + res.stderr
    result: dict[str, object] = json.loads(res.stdout)
    return result
