"""An overall deadline for one call to the outside world, seen by each of its socket operations.

HTTP libraries time each socket operation on its own: a server that sends one byte of its
headers every 2 s never trips a 5 s read timeout, and the call (with the worker thread and the
auth config's lock) is held for ever. A ``CallDeadline`` is set around a whole call
(``running``) in the calling thread's context; the seams' network layers
(``rotator.composio.wire``, ``rotator.vault.wire``) ask it before every connect, read and write
how long that one operation may still block (``left``), and give up when nothing is left. Every
operation is then cut to what remains of the call, so connect, headers and body together end
by the deadline (plus one scheduling slice), however the server paces its bytes.

Pure: a context variable and a clock, no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["CallDeadline"]


class CallDeadline:
    """One seam's deadline: at most one running per thread (context) at a time."""

    def __init__(self, name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._end: ContextVar[float | None] = ContextVar(name, default=None)
        self._clock = clock

    @contextmanager
    def running(self, seconds: float) -> Iterator[None]:
        """Within the block, every operation ends ``seconds`` from now at the latest."""
        token = self._end.set(self._clock() + seconds)
        try:
            yield
        finally:
            self._end.reset(token)

    def left(self, timeout: float | None) -> float | None:
        """How long one operation may block: its own ``timeout`` (None: no limit of its own),
        cut to what is left of the running deadline; 0.0 once the deadline has passed (the
        caller raises its library's timeout then: a 0 socket timeout would mean non-blocking)."""
        end = self._end.get()
        if end is None:
            return timeout
        left = max(0.0, end - self._clock())
        return left if timeout is None else min(timeout, left)

    def passed(self) -> bool:
        """Whether a deadline is running and has passed."""
        end = self._end.get()
        return end is not None and self._clock() >= end
