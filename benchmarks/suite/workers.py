"""Celery worker (and beat) subprocesses for one phase, a sender app, and Redis polling.

Workers run exactly as an operator runs them (``python -m rotator worker -c N``), each in its
own process group, logging JSON to a file in the run's log directory.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.suite.stack import clean_environ
from rotator.devkit.sandbox.groups import launch_rotator, stop_groups

__all__ = [
    "BenchError",
    "Services",
    "applied_count",
    "cpu_seconds",
    "sender_app",
    "vm_kib",
    "wait_for",
]


class BenchError(RuntimeError):
    """A measurement could not be completed; the message says what and where to look."""


def wait_for(what: str, predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")


def vm_kib(pid: int, field: str = "VmHWM") -> int:
    """A /proc/<pid>/status memory figure in KiB (VmHWM: peak resident set size)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {field}")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far, from /proc/<pid>/stat."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sender_app(env: dict[str, str]) -> Any:
    """A Celery app with the workers' exact broker settings, no result backend (fire and forget).

    Without a backend, sending does not subscribe to every task's result channel; the workers
    still store results as they always do.
    """
    from celery import Celery

    from rotator.settings.load import load_settings
    from rotator.worker.app import celery_config

    conf = celery_config(load_settings(env))
    conf.pop("result_backend")
    conf.pop("result_backend_transport_options")
    app = Celery("rotator-bench", set_as_current=False)
    app.conf.update(conf)
    return app


def applied_count(client: Any, nanoids: Iterable[str], version: int | None = None) -> int:
    """How many auth configs have applied state (at ``version``, when given), in one pipeline."""
    from rotator.state.store import Keys

    pipe = client.pipeline(transaction=False)
    for nanoid in nanoids:
        pipe.hget(Keys.applied(nanoid), "version")
    values = pipe.execute()
    if version is None:
        return sum(v is not None for v in values)
    return sum(v is not None and int(v) == version for v in values)


class Services:
    """N workers (``name-1``...) and optionally one beat, for the life of a ``with`` block."""

    def __init__(self, env: dict[str, str], logdir: Path, name: str) -> None:
        self.env = {**clean_environ(), **env}
        self.logdir = logdir
        self.name = name
        self.workers: list[subprocess.Popen[bytes]] = []
        self.beat: subprocess.Popen[bytes] | None = None
        self.sender = sender_app(env)

    def _spawn(self, label: str, argv: list[str]) -> subprocess.Popen[bytes]:
        return launch_rotator(argv, env=self.env, log=self.logdir / f"{label}.log")

    def start(self, workers: int, concurrency: int, *, beat: bool = False) -> Services:
        names = [f"{self.name}-{i + 1}" for i in range(workers)]
        for n in names:
            self.workers.append(self._spawn(n, ["worker", "-c", str(concurrency), "-n", f"{n}@%h"]))
        self._wait_ready(names)
        if beat:
            schedule = str(self.logdir / f"{self.name}-beat.db")
            self.beat = self._spawn(f"{self.name}-beat", ["beat", "--schedule", schedule])
        return self

    def _wait_ready(self, names: list[str], timeout: float = 90.0) -> None:
        seen: set[str] = set()

        def ready() -> bool:
            self.check_alive()
            for reply in self.sender.control.ping(timeout=0.5) or []:
                seen.update(str(k).split("@", 1)[0] for k in reply)
            return seen.issuperset(names)

        wait_for(f"workers {', '.join(names)} to answer a ping", ready, timeout, step=0.1)

    @property
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.workers]

    def check_alive(self) -> None:
        for proc in [*self.workers, *([self.beat] if self.beat else [])]:
            if proc.poll() is not None:
                raise BenchError(
                    f"a {self.name} process exited with code {proc.returncode}; "
                    f"see the logs in {self.logdir}"
                )

    def send(self, task: str, calls: Iterable[tuple[list[Any], dict[str, Any]]]) -> int:
        """Queue ``task`` once per (args, kwargs), over one broker connection; how many sent."""
        return self.send_messages((task, args, kwargs) for args, kwargs in calls)

    def send_messages(self, messages: Iterable[tuple[str, list[Any], dict[str, Any]]]) -> int:
        """Queue each (task, args, kwargs), over one broker connection; how many sent."""
        sent = 0
        with self.sender.producer_or_acquire() as producer:
            for task, args, kwargs in messages:
                self.sender.send_task(task, args=args, kwargs=kwargs, producer=producer)
                sent += 1
        return sent

    def stop(self) -> None:
        stop_groups([*self.workers, *([self.beat] if self.beat else [])], grace=15)
        self.workers, self.beat = [], None
        self.sender.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
