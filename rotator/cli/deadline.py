"""An overall deadline for the commands that probe servers (``health`` and ``check``).

Every server call has its own timeouts (Redis: 5 s to connect and 10 s per read, a timeout
retried once; each sentinel in turn; Vault: ``ROTATOR_VAULT_TIMEOUT``), and they add up: a
Redis or Sentinel that accepts connections and never answers held ``check`` for 65 to 125 s and
``health`` for 21 to 41 s, past the 10 s a container health check allows. ``within`` runs a
probe on a daemon thread and stops waiting at the deadline: the probe is then reported as
``NoAnswer`` (naming what it was waiting for), and its thread, blocked on a socket to a server
that does not answer, ends with the process (both commands are short-lived). A deadline counts
from the process's start (``process_age``): the interpreter's start and the imports, slow on a
loaded host, are inside it too.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from rotator.core.errors import TransientError

__all__ = [
    "CHECK_TIMEOUT",
    "HEALTH_TIMEOUT",
    "PROBE_TIMEOUT",
    "Deadline",
    "NoAnswer",
    "Stage",
    "process_age",
    "within",
]

HEALTH_TIMEOUT = 8.0  # `health`: under the 10 s of the Dockerfile's HEALTHCHECK and the probes
CHECK_TIMEOUT = 30.0  # `check`: the whole checklist
PROBE_TIMEOUT = 10.0  # `check`: each probe (and the connection), at most what is left of it

T = TypeVar("T")


class NoAnswer(TransientError):
    """A dependency did not answer within the deadline."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what} did not answer within {round(seconds, 1):g} s")
        self.what = what


class Stage:
    """What a probe is waiting for now (the probe sets ``now`` as it goes), for ``NoAnswer``."""

    def __init__(self, now: str) -> None:
        self.now = now

    def __call__(self) -> str:
        return self.now


def process_age() -> float:
    """Seconds since this process started (Linux ``/proc``: the start time in clock ticks since
    boot); 0.0 where that cannot be read."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # after the command's name
        ticks = int(fields[19])  # field 22, starttime
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


class Deadline:
    """``seconds`` after this process started; ``left()`` is what remains (never below 0)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds - process_age()

    def left(self) -> float:
        return max(0.0, self._end - self._clock())


def within(
    seconds: float, fn: Callable[[], T], *, what: str | Callable[[], str], said: float = 0.0
) -> T:
    """``fn()``'s result or its exception, if it ends within ``seconds``; else ``NoAnswer``
    naming ``what`` (a callable: asked when the deadline passes) and ``said`` (the deadline as
    the operator gave it; default ``seconds``)."""
    result: list[T] = []
    error: list[BaseException] = []
    done = threading.Event()
    ctx = contextvars.copy_context()

    def run() -> None:
        try:
            result.append(ctx.run(fn))
        except BaseException as exc:  # handed to the caller's thread, raised there
            error.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="rotator-probe", daemon=True).start()
    if not done.wait(seconds):
        raise NoAnswer(what() if callable(what) else what, said or seconds)
    if error:
        raise error[0]
    return result[0]
