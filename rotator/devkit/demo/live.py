"""The live demo: a real Celery worker and beat (subprocesses) keep the stack in step while
new Vault versions are written; each rotation shows up as it happens (from the audit stream).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from rotator.console.render import colour
from rotator.devkit.sandbox.groups import launch_rotator, stop_groups
from rotator.devkit.sandbox.stack import LocalStack
from rotator.runtime import Runtime

__all__ = ["LiveServices", "follow_until"]

DEMO_ENV = {
    "ROTATOR_SWEEP_INTERVAL": "2",
    "ROTATOR_RESYNC_INTERVAL": "0",
    "ROTATOR_RETRY_MAX_DELAY": "5",
    "ROTATOR_LOCK_TTL": "10",
    "ROTATOR_VISIBILITY_TIMEOUT": "60",
    "ROTATOR_LOG_FORMAT": "json",
}


class LiveServices:
    """A worker and a beat as subprocesses, logging to files in a temp dir; stopped on exit."""

    def __init__(self, stack: LocalStack) -> None:
        self.env = {**os.environ, **stack.env(**DEMO_ENV)}
        self._dir = tempfile.TemporaryDirectory(prefix="rotator-demo-")
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        schedule = str(Path(self._dir.name) / "beat.db")
        for name, argv in (("worker", ["worker", "-c", "4"]), ("beat", ["beat", "-s", schedule])):
            log = Path(self._dir.name) / f"{name}.log"
            self.procs.append(launch_rotator(argv, env=self.env, log=log))
            click.echo(f"  {name:<8} pid {self.procs[-1].pid}, log {log}")

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        stop_groups(self.procs, grace=15)
        self._dir.cleanup()


def _line(fields: dict[str, str]) -> str:
    outcome = fields.get("outcome", "?")
    text = (
        f"{time.strftime('%H:%M:%S')}  {fields.get('auth_config_id', '?'):<17} "
        f"{outcome:<11} v{fields.get('vault_version', '-'):<3} "
        f"{fields.get('http_status', ''):<4} {fields.get('request_id', '')}"
    )
    reason = fields.get("error") or fields.get("reason", "")
    return click.style(text, fg=colour(outcome)) + f"  {reason[:160]}"


def follow_until(
    rt: Runtime, services: LiveServices, done: Callable[[], bool], *, timeout: float, last: str
) -> tuple[bool, str]:
    """Print each audit event as it arrives until ``done()`` or the deadline; return (ok, last)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = done()  # checked before reading, so the events that finished it are printed
        for entry_id, fields in rt.state.audit_after(last, block_ms=0 if finished else 500):
            last = entry_id
            click.echo(_line(fields))
        if finished:
            return True, last
        if not services.alive():
            click.secho("a worker or beat process exited; see its log", fg="red")
            return False, last
    return False, last
