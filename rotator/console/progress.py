"""Waiting for many queued rotations: a live progress view on a terminal (rich.progress: done/
total, rate, ETA, failures so far), a progress line on stderr every few seconds elsewhere; then
one summary line and a row for each config that failed or is still retrying."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TextIO

from rotator.core.models import Outcome
from rotator.core.states import Result

__all__ = ["LINE_EVERY", "summary_line", "wait_all"]

LINE_EVERY = 5.0  # seconds between progress lines off a terminal
POLL = 0.25

Poll = Callable[[], dict[str, Outcome]]  # -> the outcomes finished since the last call


def summary_line(outcomes: Sequence[Outcome], seconds: float) -> str:
    """``300 auth configs in 21.4s: 298 succeeded, 2 failed`` (outcomes in a fixed order)."""
    counts = Counter(o.result for o in outcomes)
    order = (Result.SUCCEEDED, Result.SKIPPED, Result.RETRY_LATER, Result.FAILED)
    parts = [f"{counts[r]} {r}" for r in order if counts[r]]
    return f"{len(outcomes)} auth configs in {seconds:.1f}s: {', '.join(parts) or 'none'}"


def _line(done: int, total: int, failed: int, started: float) -> str:
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = done / elapsed
    eta = f"{(total - done) / rate:.0f}s" if rate > 0 else "?"
    return f"rotator: {done}/{total} done, {failed} failed, {rate:.1f}/s, ETA {eta}"


def wait_all(
    order: Sequence[str],
    poll: Poll,
    *,
    timeout: float,
    late: Callable[[str], Outcome],
    err: TextIO | None = None,
) -> list[Outcome]:
    """Call ``poll`` until every nanoid of ``order`` has an outcome or ``timeout``; the
    outcomes keep ``order``; one not done in time is ``late(nanoid)``."""
    err = err or sys.stderr
    total = len(order)
    done: dict[str, Outcome] = {}
    started = time.monotonic()
    deadline = started + timeout

    def step() -> int:
        done.update(poll())
        return sum(1 for o in done.values() if o.result is Result.FAILED)

    if err.isatty():
        _live(step, total, deadline, done, err)
    else:
        last = started
        while len(done) < total and time.monotonic() < deadline:
            failed = step()
            if time.monotonic() - last >= LINE_EVERY:
                err.write(_line(len(done), total, failed, started) + "\n")
                err.flush()
                last = time.monotonic()
            if len(done) < total:
                time.sleep(POLL)
    return [done.get(n) or late(n) for n in order]


def _live(
    step: Callable[[], int], total: int, deadline: float, done: dict[str, Outcome], err: TextIO
) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("rotating"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
    )
    started = time.monotonic()
    with Progress(*columns, console=Console(file=err), transient=True) as bar:
        task = bar.add_task("rotating", total=total, failed=0, rate="-")
        while len(done) < total and time.monotonic() < deadline:
            failed = step()
            rate = len(done) / max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=len(done), failed=failed, rate=f"{rate:.1f}/s")
            if len(done) < total:
                time.sleep(POLL)
