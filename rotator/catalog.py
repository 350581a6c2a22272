"""The catalogue of auth configs: Vault discovery under the prefix plus the bindings file.

Listing is I/O (a recursive KV v2 LIST); the result is cached for ``ttl`` seconds so that a
burst of ``rotate`` calls does not list Vault once per call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rotator.bindings import discovered, load_bindings_file, merge
from rotator.config import Settings
from rotator.models import Binding

__all__ = ["Catalog", "CatalogView", "Lister"]


class Lister(Protocol):
    def list_secrets(self, mount: str, prefix: str) -> list[str]: ...


@dataclass(frozen=True)
class CatalogView:
    bindings: dict[str, Binding]
    problems: list[str] = field(default_factory=list)


class Catalog:
    """Which auth configs exist and where their secrets live."""

    def __init__(
        self,
        settings: Settings,
        lister: Lister,
        *,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._lister = lister
        self._ttl = ttl
        self._clock = clock
        self._explicit = (
            load_bindings_file(settings.bindings_file, mount=settings.vault_mount)
            if settings.bindings_file
            else []
        )
        self._lock = threading.Lock()
        self._cached: tuple[float, CatalogView] | None = None

    def view(self, *, fresh: bool = False) -> CatalogView:
        with self._lock:
            if not fresh and self._cached and self._clock() - self._cached[0] < self._ttl:
                return self._cached[1]
        view = self._build()
        with self._lock:
            self._cached = (self._clock(), view)
        return view

    def get(self, nanoid: str) -> Binding | None:
        binding = self.view().bindings.get(nanoid)
        return binding if binding is not None else self.view(fresh=True).bindings.get(nanoid)

    def _build(self) -> CatalogView:
        s = self._settings
        found: dict[str, Binding] = {}
        problems: list[str] = []
        prefix = s.vault_prefix
        for rel in self._lister.list_secrets(s.vault_mount, prefix):
            b = discovered(
                s.vault_mount, rel if rel.startswith(prefix + "/") else f"{prefix}/{rel}"
            )
            if isinstance(b, str):
                problems.append(b)
            elif b.auth_config_id in found:
                problems.append(
                    f"{b.auth_config_id}: found at both {found[b.auth_config_id].vault_path} and "
                    f"{b.vault_path}; bind it explicitly in the bindings file"
                )
            else:
                found[b.auth_config_id] = b
        return CatalogView(bindings=merge(found.values(), self._explicit), problems=problems)
