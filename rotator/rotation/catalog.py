"""The catalogue of auth configs: Vault discovery under the prefix plus the bindings file.

Listing is I/O (a recursive KV v2 LIST); the result is cached for ``ttl`` seconds so that a
burst of ``rotate`` calls does not list Vault once per call. One thread of a process lists at a
time: when the cache is stale, the others go on with the stale view meanwhile (up to
``STALE_FOR`` TTLs old; past that they wait for the listing), and a caller that asks for a
fresh view gets the first listing that began after it asked, shared with every caller that
asked meanwhile; a listing that fails raises to all of them at once. So a worker's 16 threads
list Vault once per ``ttl``, not 16 times, each over the whole fleet.

A nanoid discovered at more than one path is ambiguous and fails closed: it is pushed from none
of them (``AmbiguousSource``) until a bindings-file entry pins the one path. Otherwise anyone who
may write anywhere under the prefix could replace another team's live credentials.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rotator.core.errors import AmbiguousSource, PermanentError
from rotator.core.models import Binding
from rotator.rotation.bindings import discovered, merge, nanoid_problem
from rotator.rotation.bindings_file import BindingsFile
from rotator.settings.load import Settings

__all__ = ["Catalog", "CatalogView", "Lister", "ambiguous_error"]


class Lister(Protocol):
    def list_secrets(self, mount: str, prefix: str) -> list[str]: ...


@dataclass(frozen=True)
class CatalogView:
    bindings: dict[str, Binding]
    problems: list[str] = field(default_factory=list)  # secrets that name no auth config
    conflicts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # nanoid -> every path
    bindings_problem: str | None = None  # the file changed and broke: the last good is in force

    def ids(self) -> list[str]:
        """Every auth config to act on: the bound ones and the ambiguous ones (which fail)."""
        return sorted({*self.bindings, *self.conflicts})


STALE_FOR = 2  # a stale view is served while a listing runs, up to this many TTLs old


@dataclass(frozen=True)
class _Listed:
    began: float  # the clock when its listing began
    number: int  # which listing of this process made it
    view: CatalogView


@dataclass(frozen=True)
class _Ask:
    at: float
    begun: int  # listings begun before this call: a fresh view needs a later one
    fresh: bool


@dataclass(frozen=True)
class _Failed:
    number: int
    ended: float  # the clock when it failed
    error: Exception

    def covers(self, asked: _Ask) -> bool:
        """Whether this failure answers ``asked``: a listing begun after the call, or (unless
        fresh) one still under way when the call came."""
        return self.number > asked.begun or (not asked.fresh and self.ended >= asked.at)


def ambiguous_error(nanoid: str, paths: tuple[str, ...]) -> AmbiguousSource:
    """The one failure an ambiguous nanoid gets, naming every path it was found at."""
    return AmbiguousSource(
        f"{nanoid}: found at {len(paths)} Vault paths ({', '.join(paths)}); "
        "pushed from none of them",
        suggested_fix="pin the one path with a [[binding]] entry in ROTATOR_BINDINGS_FILE, "
        "or delete the secrets that should not be there",
    )


class Catalog:
    """Which auth configs exist and where their secrets live."""

    def __init__(
        self,
        settings: Settings,
        lister: Lister,
        *,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        bindings: BindingsFile | None = None,
    ) -> None:
        """``bindings``: the file as read at start-up (else read here: ``ConfigError`` if bad)."""
        self._settings = settings
        self._lister = lister
        self._ttl = ttl
        self._clock = clock
        path = settings.bindings_file
        if bindings is None and path:
            bindings = BindingsFile(path, mount=settings.vault_mount)
        self._file = bindings
        self._listing = threading.Lock()  # held by the one thread listing Vault
        self._begun = 0  # listings begun so far in this process
        self._cached: _Listed | None = None
        self._failed: _Failed | None = None  # the last listing, when it failed

    def view(self, *, fresh: bool = False) -> CatalogView:
        """The cached view while younger than ``ttl``; ``fresh``: one listed after this call.
        A listing that fails raises to every caller that waited for it, not to each in turn."""
        asked = _Ask(self._clock(), self._begun, fresh)
        cached = self._cached
        if not fresh and cached is not None:
            if self._usable(cached, asked):
                return cached.view
            young = asked.at - cached.began < self._ttl * STALE_FOR
            # young: served while another thread lists (no herd); older: wait for that listing
            if not self._listing.acquire(blocking=not young):
                return cached.view
        else:
            self._listing.acquire()
        try:
            cached = self._cached
            if cached is not None and self._usable(cached, asked):  # listed meanwhile
                return cached.view
            if self._failed is not None and self._failed.covers(asked):
                raise self._failed.error  # the listing this call waited for failed
            self._begun += 1
            began = self._clock()
            try:
                view = self._build()
            except Exception as exc:
                self._failed = _Failed(self._begun, self._clock(), exc)
                raise
            self._cached, self._failed = _Listed(began, self._begun, view), None
            return view
        finally:
            self._listing.release()

    def _usable(self, cached: _Listed, asked: _Ask) -> bool:
        """A listing begun after the call; or, unless fresh, one younger than ``ttl``."""
        if cached.number > asked.begun:
            return True
        return not asked.fresh and asked.at - cached.began < self._ttl

    def get(self, nanoid: str) -> Binding:
        """The binding for ``nanoid``. ``PermanentError`` for an id that is not a nanoid (no
        Vault call for it) or one nothing binds (naming why, when the bindings file broke);
        ``AmbiguousSource`` for one found at several paths."""
        problem = nanoid_problem(nanoid)
        if problem is not None:
            raise PermanentError(f"auth config id {problem}")
        view = self.view()
        if nanoid not in view.bindings:
            view = self.view(fresh=True)
        if nanoid in view.conflicts:
            raise ambiguous_error(nanoid, view.conflicts[nanoid])
        if nanoid in view.bindings:
            return view.bindings[nanoid]
        unknown = f"{nanoid}: no Vault secret under the discovery prefix and no binding for it"
        if view.bindings_problem is None:
            raise PermanentError(unknown)
        raise PermanentError(f"{unknown} in force; {view.bindings_problem}")

    def _build(self) -> CatalogView:
        s = self._settings
        found: dict[str, list[Binding]] = {}
        problems: list[str] = []
        prefix = s.vault_prefix
        for rel in self._lister.list_secrets(s.vault_mount, prefix):
            b = discovered(
                s.vault_mount, rel if rel.startswith(prefix + "/") else f"{prefix}/{rel}"
            )
            if isinstance(b, str):
                problems.append(b)
            else:
                found.setdefault(b.auth_config_id, []).append(b)
        explicit, broken = self._file.current() if self._file is not None else ([], None)
        pinned = {b.auth_config_id for b in explicit}
        conflicts = {
            nanoid: tuple(sorted(b.vault_path for b in bs))
            for nanoid, bs in found.items()
            if len(bs) > 1 and nanoid not in pinned
        }
        unique = (bs[0] for nanoid, bs in found.items() if len(bs) == 1 or nanoid in pinned)
        return CatalogView(
            bindings=merge(unique, explicit),
            problems=problems,
            conflicts=conflicts,
            bindings_problem=broken,
        )
