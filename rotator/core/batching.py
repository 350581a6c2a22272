"""Batches of rotations (pure): how many auth configs one ``rotator.rotate_batch`` task
carries, and its wire format, checked entry by entry.

A mass rotation (``rotate --all``, the sweep's first sync) costs Celery one message, one
delivery, one ack and one result per task; carrying several auth configs per task divides that
by the batch size. Each entry still rotates on its own: its own lock, pause check, retries,
outcome, canonical log line and audit entry. Batches are never so large that the fleet's worker
threads run out of work: ``SPREAD`` batches at least, so a small run is one task per config, as
before.

An entry on the wire is ``{"auth_config_id": ..., "force": ..., "trigger": ...}`` (``force`` and
``trigger`` optional); a batch message is ``[entries]``. A bad entry is rejected alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "MAX_ENTRIES",
    "SPREAD",
    "STAGGER",
    "STAGGER_FROM",
    "Entry",
    "batch_size",
    "chunks",
    "parse_entries",
]

T = TypeVar("T")

SPREAD = 64  # at least this many tasks when there are this many configs: threads stay busy
MAX_ENTRIES = 1000  # a batch message carrying more is refused whole (never sent by rotator)
_KEYS = frozenset({"auth_config_id", "force", "trigger"})


def batch_size(count: int, *, most: int) -> int:
    """Configs per task for ``count`` rotations: ``count // SPREAD``, between 1 and ``most``."""
    return max(1, min(most, count // SPREAD))


# Batch sizes cycle over these eighths of ``batch_size`` (at most ``most``; their mean is at
# most ``batch_size``, so there are still SPREAD tasks at least). Batches that start together
# then end at different times: a worker's consumer thread, starved of the GIL by the busy
# threads, fetches their successors a few at a time, not sixteen at once (equal batches made the
# fleet's throughput dip to 60% for a second at the end of the first round, measured).
# Only from STAGGER_FROM on: smaller batches would turn into single tasks, not shorter batches.
STAGGER = (12, 4, 10, 6, 11, 5, 9, 7, 8)
STAGGER_FROM = 4


def chunks(items: Sequence[T], *, most: int) -> list[list[T]]:
    """``items`` in order, cut into batches of about ``batch_size``, staggered (``STAGGER``)."""
    size = batch_size(len(items), most=most)
    out: list[list[T]] = []
    at = 0
    while at < len(items):
        n = size
        if size >= STAGGER_FROM:  # then n >= 2: the smallest share is half of size
            n = min(most, size * STAGGER[len(out) % len(STAGGER)] // 8)
        out.append(list(items[at : at + n]))
        at += n
    return out


@dataclass(frozen=True)
class Entry:
    """One rotation of a batch, as it came off the wire: ``problem`` is None when usable."""

    auth_config_id: object
    force: object = False
    trigger: object = None
    problem: str | None = None

    def wire(self) -> dict[str, object]:
        out: dict[str, object] = {"auth_config_id": self.auth_config_id, "force": self.force}
        if self.trigger is not None:
            out["trigger"] = self.trigger
        return out


def parse_entries(raw: object) -> tuple[list[Entry], str | None]:
    """A batch message's argument: its entries (each with its own ``problem``, if any) and
    None, or no entries and the problem that makes the whole message unusable."""
    if not isinstance(raw, list):
        return [], f"entries must be a list, not {type(raw).__name__}"
    if len(raw) > MAX_ENTRIES:
        return [], f"{len(raw)} entries exceed the {MAX_ENTRIES} a batch may carry"
    return [_entry(item, n) for n, item in enumerate(raw)], None


def _entry(item: object, n: int) -> Entry:
    if not isinstance(item, dict):
        return Entry(None, problem=f"entry {n} must be an object, not {type(item).__name__}")
    unknown = sorted(repr(k)[:40] for k in item if k not in _KEYS)[:5]
    entry = Entry(item.get("auth_config_id"), item.get("force", False), item.get("trigger"))
    if unknown:
        return Entry(
            entry.auth_config_id, problem=f"entry {n} has unknown keys: {', '.join(unknown)}"
        )
    return entry
