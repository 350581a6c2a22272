"""Everything one emulated Composio organisation holds, shared by the API and admin routes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from rotator.devkit.emulator.faults import FaultPlan
from rotator.devkit.emulator.journal import Journal
from rotator.devkit.emulator.ratelimit import RateLimiter
from rotator.devkit.emulator.store import Store

__all__ = ["Backend"]

AUTH_HEADERS = ("x-api-key", "x-user-api-key")


class Backend:
    """Auth configs, API keys, rate limit, fault plan and journal of one organisation."""

    def __init__(
        self,
        *,
        api_keys: Iterable[str],
        rate_limit: int | None,
        rate_window: float,
        seed: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.store = Store(clock=clock)
        self.faults = FaultPlan()
        self.faults.set_mix(None, seed=seed)
        self.journal = Journal()
        self.limiter = RateLimiter()
        self.limiter.configure(rate_limit, rate_window)
        self.api_keys: frozenset[str] = frozenset()
        self.set_api_keys(api_keys)

    def set_api_keys(self, keys: Iterable[str]) -> None:
        """Replace the accepted keys (one atomic swap): a rotated-out key then gets 401."""
        frozen = frozenset(() if isinstance(keys, str) else keys)
        if isinstance(keys, str) or not all(isinstance(k, str) and k for k in frozen):
            raise ValueError("API keys must be an iterable of non-empty strings")
        self.api_keys = frozen

    def add_auth_config(
        self,
        nanoid: str,
        *,
        type: str = "custom",
        toolkit: str = "github",
        name: str | None = None,
        credentials: Mapping[str, object] | None = None,
        shared_credentials: Mapping[str, object] | None = None,
        enabled: bool = True,
        auth_scheme: str = "OAUTH2",
    ) -> None:
        """Add (or replace) an auth config, as if created on Composio's dashboard."""
        if not nanoid or "/" in nanoid:
            raise ValueError("nanoid must be a non-empty string without '/'")
        if type not in ("custom", "default"):
            raise ValueError("type must be 'custom' or 'default'")
        self.store.create(
            nanoid,
            type=type,
            toolkit=toolkit,
            name=name if name is not None else f"{toolkit} ({nanoid})",
            auth_scheme=auth_scheme,
            enabled=enabled,
            credentials=credentials or {},
            shared_credentials=shared_credentials or {},
        )
