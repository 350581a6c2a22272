"""What one ``rotator bench`` run measures (sizes, concurrency) and what the phases share."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks.suite.seed import Fleet, fleet
from benchmarks.suite.stack import BenchStack

__all__ = ["Context", "Options", "fleets"]


@dataclass(frozen=True)
class Options:
    configs: int = 1000
    sweep_configs: int = 10000
    workers: int = 2
    concurrency: int = 16
    reps: int = 3
    latency_writes: int = 20
    sweep_interval: float = 5.0
    rate_limit: int = 100  # requests per rate window: 100 per 10 s is 600/min scaled down
    rate_window: float = 10.0
    rate_windows: int = 3  # emulator windows observed
    starter_limit: int = 200  # Composio's Starter 2,000 per 60 s, scaled to 200 per 6 s
    starter_window: float = 6.0
    starter_windows: int = 2
    sync_budget: float = 300.0  # seconds for the first sync of the sweep fleet
    quick: bool = False

    def effective(self) -> Options:
        """``--quick``: sizes small enough for a smoke test (well under a minute)."""
        if not self.quick:
            return self
        return replace(
            self,
            configs=min(self.configs, 60),
            sweep_configs=min(self.sweep_configs, 200),
            reps=1,
            latency_writes=min(self.latency_writes, 4),
            sweep_interval=min(self.sweep_interval, 2.0),
            rate_limit=min(self.rate_limit, 20),
            rate_window=min(self.rate_window, 2.0),
            rate_windows=min(self.rate_windows, 2),
            starter_limit=min(self.starter_limit, 20),
            starter_window=min(self.starter_window, 2.0),
        )

    @property
    def threads(self) -> int:
        """Threads over all workers: what the bare loops get too."""
        return self.workers * self.concurrency


def fleets(o: Options) -> dict[str, Fleet]:
    """One Vault prefix per kind of measure (the rate-limit phase reuses ``rotation``)."""
    return {
        "rotation": fleet("rotation", "rot", o.configs),
        "sweep": fleet("sweep", "swp", o.sweep_configs),
        "latency": fleet("latency", "lat", max(o.latency_writes, 1)),
    }


@dataclass
class Context:
    options: Options
    stack: BenchStack
    fleets: dict[str, Fleet]
    logdir: Path
    notes: list[str] = field(default_factory=list)
    # Vault version of each fleet's secrets (every write bumps all of a fleet by one)
    versions: dict[str, int] = field(default_factory=dict)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def redis(self, db: int) -> Any:
        import redis

        return redis.Redis(port=self.stack.redis.port, db=db, decode_responses=True)
