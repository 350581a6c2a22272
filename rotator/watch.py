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

from rotator.render import colour
from rotator.runtime import Runtime
from rotator.status import StatusRow
from rotator.untrusted import markup

__all__ = ["render_watch", "watch_status"]


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


def render_watch(
    rows: Sequence[StatusRow],
    sweep: dict[str, str],
    *,
    interval: float,
    now: float,
    breaker: str = "closed",
) -> Group:
    """One frame: a two-line header (three while the circuit breaker is open) and a compact
    table (fits 80 columns)."""
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False)
    table.add_column("auth config", no_wrap=True, overflow="ellipsis", max_width=22)
    table.add_column("state", no_wrap=True, width=11)
    table.add_column("vault", justify="right", width=5)
    table.add_column("appl", justify="right", width=5)
    table.add_column("last error", no_wrap=True, overflow="ellipsis", max_width=30)
    for r in rows:
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
    if breaker != "closed":
        header.append(f"\ncircuit breaker {breaker}", style="bold red")
    return Group(header, table)


def _frame(rt: Runtime) -> Group:
    return render_watch(
        rt.status_rows(),
        rt.state.last_sweep(),
        interval=rt.settings.sweep_interval,
        now=time.time(),
        breaker=rt.service.breaker.describe(),
    )


def watch_status(rt: Runtime, *, interval: float, iterations: int | None = None) -> None:
    """Refresh until Ctrl-C (or ``iterations`` frames); on a non-terminal, print each frame."""
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 80)
    count = 0
    try:
        if console.is_terminal:
            with Live(_frame(rt), console=console, auto_refresh=False) as live:
                while iterations is None or count < iterations:
                    time.sleep(interval)
                    live.update(_frame(rt), refresh=True)
                    count += 1
        else:
            while iterations is None or count < iterations:
                console.print(_frame(rt))
                count += 1
                if iterations is None or count < iterations:
                    time.sleep(interval)
    except KeyboardInterrupt:
        return
