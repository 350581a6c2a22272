"""The credential-age gauges' snapshot: counted from the report's rows, cached for its ttl, and
never holding a scrape up when Vault or Redis does not answer."""

from __future__ import annotations

import math
import threading
import time

from rotator.reports.age import AgeRow
from rotator.worker.agegauge import AgeSnapshot, summarize


def _row(nanoid: str, age: float | None, overdue: bool | None) -> AgeRow:
    return AgeRow(nanoid, "default", f"composio/{nanoid}", 1, None, age, 60.0, "setting", None,
                  overdue, None)  # fmt: skip


ROWS = [_row("ac_a", 90.0, True), _row("ac_b", 10.0, False), _row("ac_c", None, None),
        _row("ac_d", 300.0, True)]  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_summarize_counts_overdue_ones_and_the_oldest_known_age() -> None:
    """Unknown ages (never pushed) are neither overdue nor the oldest; no rows: 0 and 0."""
    assert summarize(ROWS).overdue == 2.0
    assert summarize(ROWS).oldest == 300.0
    assert summarize([]).overdue == 0.0 and summarize([]).oldest == 0.0


def test_a_count_is_served_for_its_ttl_then_read_again() -> None:
    """Scrapes within the ttl cost no read; the first after it reads the rows once more."""
    clock, calls = Clock(), []

    def rows() -> list[AgeRow]:
        calls.append(clock.now)
        return ROWS[: 1 + len(calls)]

    snap = AgeSnapshot(rows, ttl=30.0, wait=5.0, clock=clock)
    assert snap.read().overdue == 1.0
    clock.now = 29.0
    assert snap.read().overdue == 1.0 and calls == [0.0]
    clock.now = 30.0
    assert snap.read().overdue == 1.0 and calls == [0.0, 30.0]  # ROWS[:3]: a and c
    assert snap.read().oldest == 90.0


def test_a_read_that_fails_is_unknown_not_zero() -> None:
    """Vault or Redis down: NaN (unknown), never a count of 0 that would silence the alert."""

    def rows() -> list[AgeRow]:
        raise ConnectionError("redis is down")

    ages = AgeSnapshot(rows).read()
    assert math.isnan(ages.overdue) and math.isnan(ages.oldest)


def test_a_read_that_hangs_holds_a_scrape_no_longer_than_the_wait() -> None:
    """A silent server: the scrape answers NaN after ``wait``; the next scrape starts no second
    read beside the hanging one, and the count shows once the read ends."""
    release, calls = threading.Event(), []

    def rows() -> list[AgeRow]:
        calls.append(1)
        release.wait(30)
        return ROWS

    snap = AgeSnapshot(rows, wait=0.2)
    began = time.monotonic()
    assert math.isnan(snap.read().overdue)
    assert math.isnan(snap.read().overdue)
    assert time.monotonic() - began < 2.0
    assert calls == [1]
    release.set()
    deadline = time.monotonic() + 10
    while math.isnan(snap.read().overdue):
        assert time.monotonic() < deadline, "the count never showed"
    assert snap.read().overdue == 2.0 and calls == [1]
