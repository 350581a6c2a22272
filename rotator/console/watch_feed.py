"""What each frame of ``rotator status --watch`` shows, read within the refresh interval.

Redis is read in full every frame (one script call per 1,024 auth configs). Vault's versions
are read rolling: the first frame reads every one (as ``rotator status`` does), and each later
frame re-reads those read longest ago, as many as fit in its time budget, so a frame of a
10,000-config fleet takes about the budget instead of the 20 s that all the KV v2 metadata
reads take. The catalogue (the Vault LIST) is re-read every ``CATALOG_EVERY`` seconds; a new
auth config is read at once. The header says how old the oldest Vault read is.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rotator.core.models import VersionMeta
from rotator.reports.status import StatusRow
from rotator.rotation.catalog import CatalogView
from rotator.runtime import READS_IN_FLIGHT, Runtime

__all__ = ["CATALOG_EVERY", "Feed"]

CATALOG_EVERY = 30.0  # seconds between catalogue LISTs while watching
_STEP = READS_IN_FLIGHT * 4  # Vault reads per step of a frame's rolling refresh


class Feed:
    def __init__(
        self, rt: Runtime, *, budget: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``budget``: seconds a frame may spend re-reading Vault versions (0: a frame reads
        only what it has never read)."""
        self._rt = rt
        self._budget = budget
        self._clock = clock
        self._view: CatalogView | None = None
        self._view_at = 0.0
        self._versions: dict[str, VersionMeta | str] = {}
        self._read_at: dict[str, float] = {}

    def oldest_read(self) -> float | None:
        """Seconds since the oldest Vault version shown was read (None before any read)."""
        return self._clock() - min(self._read_at.values()) if self._read_at else None

    def rows(self) -> list[StatusRow]:
        """One frame's rows, sorted by auth config id (as ``rotator status``)."""
        started = self._clock()
        view = self._catalog(started)
        new = [n for n in view.bindings if n not in self._versions]
        self._read(view, new)  # the first frame, and configs that just appeared: all at once
        stale = sorted((n for n in view.bindings if n not in new), key=self._read_at.__getitem__)
        for at in range(0, len(stale), _STEP):
            if self._clock() - started >= self._budget:
                break
            self._read(view, stale[at : at + _STEP])
        return self._rt.status_rows(view, {n: self._versions[n] for n in view.bindings})

    def _catalog(self, now: float) -> CatalogView:
        if self._view is None or now - self._view_at >= CATALOG_EVERY:
            self._view = self._rt.catalog.view(fresh=True)
            self._view_at = now
            gone = set(self._versions) - set(self._view.bindings)
            for nanoid in gone:
                del self._versions[nanoid], self._read_at[nanoid]
        return self._view

    def _read(self, view: CatalogView, ids: list[str]) -> None:
        if not ids:
            return
        at = self._clock()
        self._versions.update(self._rt.vault_versions({n: view.bindings[n] for n in ids}))
        self._read_at.update(dict.fromkeys(ids, at))
