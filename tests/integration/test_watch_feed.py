"""``status --watch`` at scale: each frame re-reads Vault only within its budget, oldest reads
first, and shows the rows that need attention first (real OpenBao and Redis)."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import Console

from rotator.console.watch import render_watch, shown_rows
from rotator.console.watch_feed import Feed
from rotator.core.states import RowState
from rotator.reports.status import StatusRow
from tests.faults_support import seed
from tests.helpers import Stack

STEP = 64  # watch_feed's reads per step


def _ticks() -> Iterator[float]:
    n = 0.0
    while True:
        yield n
        n += 1.0


def _versions(rows: list[StatusRow]) -> dict[str, int | None]:
    return {r.auth_config_id: r.vault_version for r in rows}


def test_a_frame_re_reads_vault_within_its_budget_oldest_read_first(stack: Stack) -> None:
    """130 configs, a budget of one step of 64 reads per frame (a clock that moves a second
    per look, budget 1.5 s): the first frame reads all 130; a new version of the config read
    last shows only in the fourth frame, after 64 + 64 + 2 re-reads; a zero budget never
    re-reads (``rotator status`` is one such frame)."""
    ids = [f"ac_w{n:03d}" for n in range(2 * STEP + 2)]
    seed(stack, ids)
    clock = _ticks()
    feed = Feed(stack.rt, budget=1.5, clock=lambda: next(clock))
    assert set(_versions(feed.rows()).values()) == {1}
    still = Feed(stack.rt, budget=0.0)
    still.rows()
    stack.write(ids[-1], {"credentials": {"client_secret": "sec-new"}})
    frames = [_versions(feed.rows())[ids[-1]] for _ in range(3)]
    assert frames == [1, 1, 2]  # re-read 0-63, 64-127, then 128-129
    assert _versions(still.rows())[ids[-1]] == 1
    assert _versions(stack.rt.status_rows())[ids[-1]] == 2


def _row(nanoid: str, state: RowState) -> StatusRow:
    return StatusRow(nanoid, f"rotator/{nanoid}", 1, 1, state, None, None, None, None, None)


def test_a_big_fleet_shows_what_needs_attention_first_and_counts_the_rest() -> None:
    """A frame capped at 3 rows of 6: the failed and pending rows first, then in step, and one
    line counting the rows left out and how many of those are in step."""
    rows = [_row(f"ac_{n}", RowState.SYNCED) for n in range(4)]
    rows[2] = _row("ac_2", RowState.FAILED)
    rows.append(_row("ac_9", RowState.PENDING))
    rows.append(_row("ac_8", RowState.SYNCED))
    shown = shown_rows(rows, 3)
    assert [r.auth_config_id for r in shown] == ["ac_2", "ac_9", "ac_0"]
    assert shown_rows(rows, 10) == rows
    console = Console(width=80, record=True)
    console.print(render_watch(rows, {}, interval=60, now=0.0, limit=3, vault_age=12.0))
    text = console.export_text()
    assert "... 3 more (3 in step): rotator status --json lists all" in text
    assert "Vault versions read up to 12s ago (rolling)" in text
    assert "ac_1" not in text
