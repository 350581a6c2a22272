"""Terminal and JSON output for the CLI. Rows carry IDs, versions and outcomes, never values."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from rotator.console.untrusted import markup
from rotator.core.age import show_duration
from rotator.core.models import Outcome
from rotator.core.states import Result, RowState
from rotator.observability.logs import scrub
from rotator.reports.status import StatusRow

__all__ = [
    "COLOURS",
    "colour",
    "print_json",
    "print_outcomes",
    "print_status",
    "print_summary",
    "scrubbed",
]

# The one colour map of the outcome and status vocabulary (rich and click both know the names).
COLOURS: Mapping[str, str] = {
    Result.SUCCEEDED: "green",
    Result.SKIPPED: "bright_black",
    Result.RETRY_LATER: "yellow",
    Result.FAILED: "red",
    Result.UNVERIFIED: "yellow",
    RowState.SYNCED: "green",
    RowState.PENDING: "cyan",
    RowState.RETRYING: "yellow",
    RowState.FAILED: "red",
    RowState.AMBIGUOUS: "red",
    RowState.QUARANTINED: "magenta",
    RowState.PAUSED: "blue",
    RowState.UNVERIFIED: "yellow",
}


def colour(word: str) -> str | None:
    """The colour of an outcome or status word (None: plain)."""
    return COLOURS.get(word)


def _console(out: TextIO | None) -> Console:
    stream = out or sys.stdout
    return Console(file=stream, soft_wrap=False, width=None if stream.isatty() else 160)


def _c(word: str) -> str:
    c = colour(word)
    return f"[{c}]{word}[/{c}]" if c else word


def _s(value: object) -> str:
    """Every cell is untrusted text (a key name, a Composio message): escaped for rich."""
    return markup(value)


def print_json(data: Any, out: TextIO | None = None) -> None:
    """``data`` as JSON with every string in it scrubbed (``scrubbed``)."""
    text = json.dumps(scrubbed(data, {}), indent=2, sort_keys=True)
    (out or sys.stdout).write(text + "\n")


def scrubbed(data: Any, memo: dict[str, str]) -> Any:
    """``data`` with each string in it (keys too) scrubbed, once per distinct string: a field
    that is a short secret is masked as well, and it costs the 4-grams of the distinct strings,
    not of every line of the printed JSON (that was 40% of ``rotator plan --json``'s CPU)."""
    if isinstance(data, str):
        if (done := memo.get(data)) is None:
            done = memo[data] = scrub(data)
        return done
    if isinstance(data, Mapping):
        return {scrubbed(str(k), memo): scrubbed(v, memo) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [scrubbed(v, memo) for v in data]
    if data is None or isinstance(data, bool):
        return data
    if isinstance(data, int | float):
        masked = scrub(text := str(data))
        return data if masked == text else masked
    return scrubbed(str(data), memo)  # what json's default=str would print


def print_outcomes(outcomes: Sequence[Outcome], out: TextIO | None = None) -> None:
    table = Table(title="rotations", expand=False)
    for col in ("auth config", "outcome", "version", "http", "slug", "request id", "why"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        why = o.error or o.reason
        if o.retry_in is not None:
            why += f" (retry in {o.retry_in:.0f}s)"
        table.add_row(
            _s(o.auth_config_id),
            _c(o.result),
            _s(o.vault_version),
            _s(o.http_status),
            _s(o.error_slug),
            _s(o.request_id),
            _s(why),
        )
    _console(out).print(table)


def print_summary(
    outcomes: Sequence[Outcome], seconds: float, *, verbose: bool, out: TextIO | None = None
) -> None:
    """One summary line, then a row per failed or still-retrying config (every row: verbose)."""
    from rotator.console.progress import summary_line

    stream = out or sys.stdout
    shown = [o for o in outcomes if verbose or not o.ok]
    if shown:
        print_outcomes(shown, out=stream)
    stream.write(summary_line(outcomes, seconds) + "\n")


def outcomes_json(outcomes: Iterable[Outcome]) -> list[dict[str, object]]:
    return [o.as_dict() for o in outcomes]


def print_status(rows: Sequence[StatusRow], out: TextIO | None = None) -> None:
    table = Table(title="auth configs", expand=False)
    for col in ("auth config", "state", "vault", "applied", "age", "last success", "last error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        err = r.last_error
        if err and (r.last_error_status or r.last_error_slug):
            err = f"{r.last_error_status or ''} {r.last_error_slug or ''}: {err}".strip()
        table.add_row(
            _s(r.auth_config_id),
            _c(r.state),
            _s(r.vault_version),
            _s(r.applied_version),
            show_duration(r.credential_age_seconds),
            _s(r.last_success),
            _s(err),
        )
    _console(out).print(table)
