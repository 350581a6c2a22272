"""``rotator status --watch``: a live terminal view of every auth config, refreshed from Redis
and Vault, readable on an 80-column terminal."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from rotator.console.render import colour
from rotator.console.untrusted import markup
from rotator.console.watch_feed import Feed
from rotator.core.states import RowState
from rotator.reports.status import StatusRow
from rotator.runtime import Runtime

__all__ = ["render_watch", "shown_rows", "watch_status"]


def _header(rows: Sequence[StatusRow], sweep: dict[str, str], interval: float, now: float) -> Text:
    counts = Counter(r.state for r in rows)
    parts = [f"{n} {state}" for state, n in sorted(counts.items())]
    line1 = f"rotator  {datetime.fromtimestamp(now, UTC):%H:%M:%S}Z  {len(rows)} auth configs: "
    text = Text(line1 + (", ".join(parts) or "none"))
    if sweep.get("at"):
        at = float(sweep["at"])
        next_in = max(0.0, at + interval - now)
        text.append(
            f"\nlast sweep {datetime.fromtimestamp(at, UTC):%H:%M:%S}Z "
            f"(checked {sweep.get('checked', '?')}, queued {sweep.get('queued', '?')}), "
            f"next in ~{next_in:.0f}s"
        )
    else:
        text.append("\nno sweep has run yet (is beat running?)")
    return text


def shown_rows(rows: Sequence[StatusRow], limit: int | None) -> list[StatusRow]:
    """Up to ``limit`` rows, those that need attention first (in step last), each group in id
    order: a terminal shows a 10,000-config fleet's problems, not its first 40 ids."""
    if limit is None or len(rows) <= limit:
        return list(rows)
    return sorted(rows, key=lambda r: r.state == RowState.SYNCED)[: max(limit, 0)]


def render_watch(
    rows: Sequence[StatusRow],
    sweep: dict[str, str],
    *,
    interval: float,
    now: float,
    breaker: str = "closed",
    limit: int | None = None,
    vault_age: float | None = None,
) -> Group:
    """One frame: a two-line header (three while the circuit breaker is open) and a compact
    table (fits 80 columns) of up to ``limit`` rows, then how many more there are.
    ``vault_age``: seconds since the oldest Vault version shown was read."""
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False)
    table.add_column("auth config", no_wrap=True, overflow="ellipsis", max_width=22)
    table.add_column("state", no_wrap=True, width=11)
    table.add_column("vault", justify="right", width=5)
    table.add_column("appl", justify="right", width=5)
    table.add_column("last error", no_wrap=True, overflow="ellipsis", max_width=30)
    shown = shown_rows(rows, limit)
    for r in shown:
        err = r.last_error or ""
        if r.last_error_status or r.last_error_slug:
            err = f"{r.last_error_status or ''} {r.last_error_slug or ''} {err}".strip()
        table.add_row(
            markup(r.auth_config_id),
            Text(r.state, style=colour(r.state) or ""),
            str(r.vault_version or "-"),
            str(r.applied_version or "-"),
            markup(err),
        )
    header = _header(rows, sweep, interval, now)
    if vault_age is not None and vault_age >= 1:
        header.append(f"\nVault versions read up to {vault_age:.0f}s ago (rolling)")
    if breaker != "closed":
        header.append(f"\ncircuit breaker {breaker}", style="bold red")
    more = len(rows) - len(shown)
    if more:
        in_step = sum(r.state == RowState.SYNCED for r in rows) - sum(
            r.state == RowState.SYNCED for r in shown
        )
        tail = Text(f"... {more} more ({in_step} in step): rotator status --json lists all")
        return Group(header, table, tail)
    return Group(header, table)


OFF_TERMINAL_ROWS = 200  # rows per printed frame when stdout is not a terminal


def _frame(rt: Runtime, feed: Feed, limit: int) -> Group:
    rows = feed.rows()
    return render_watch(
        rows,
        rt.state.last_sweep(),
        interval=rt.settings.sweep_interval,
        now=time.time(),
        breaker=rt.service.breaker.describe(),
        limit=limit,
        vault_age=feed.oldest_read(),
    )


def watch_status(rt: Runtime, *, interval: float, iterations: int | None = None) -> None:
    """Refresh until Ctrl-C (or ``iterations`` frames); on a non-terminal, print each frame.
    Each refresh spends at most half the interval re-reading Vault (``watch_feed``)."""
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 80)
    feed = Feed(rt, budget=interval / 2)
    count = 0
    tick = _Ticker(interval)
    try:
        if console.is_terminal:
            limit = max(10, console.height - 8)
            with Live(_frame(rt, feed, limit), console=console, auto_refresh=False) as live:
                while iterations is None or count < iterations:
                    tick.wait()
                    live.update(_frame(rt, feed, limit), refresh=True)
                    count += 1
        else:
            while iterations is None or count < iterations:
                console.print(_frame(rt, feed, OFF_TERMINAL_ROWS))
                count += 1
                if iterations is None or count < iterations:
                    tick.wait()
    except KeyboardInterrupt:
        return


class _Ticker:
    """Frames every ``interval`` seconds from the first, whatever a frame took (a slow one is
    followed at once by the next, never by a burst)."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next = time.monotonic() + interval

    def wait(self) -> None:
        time.sleep(max(0.0, self._next - time.monotonic()))
        self._next = max(self._next, time.monotonic()) + self._interval
