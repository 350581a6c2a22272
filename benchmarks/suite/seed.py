"""Benchmark fleets: one Vault prefix of auth configs each, and writing their versions fast.

Every version carries fresh random values, as a real credential rotation does, so that each
rotation reads (and must keep out of logs) values rotator has never seen before.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rotator.vault.client import VaultClient

__all__ = ["MOUNT", "Fleet", "fleet", "secret_data", "write_versions"]

MOUNT = "secret"
ROOT = "composio/bench"


@dataclass(frozen=True)
class Fleet:
    """``count`` auth configs ``ac_<tag>NNNNN`` discovered under ``composio/bench/<name>``."""

    name: str
    prefix: str
    nanoids: tuple[str, ...]

    def path(self, nanoid: str) -> str:
        return f"{self.prefix}/{nanoid}"

    def items(self) -> list[tuple[str, str]]:
        """(nanoid, KV v2 path) pairs."""
        return [(n, self.path(n)) for n in self.nanoids]


def fleet(name: str, tag: str, count: int) -> Fleet:
    nanoids = tuple(f"ac_{tag}{i:05d}" for i in range(count))
    return Fleet(name=name, prefix=f"{ROOT}/{name}", nanoids=nanoids)


def secret_data(nanoid: str) -> dict[str, object]:
    """A custom OAuth app's credentials, new random values each call."""
    return {
        "type": "custom",
        "credentials": {
            "client_id": f"cid-{nanoid}-{secrets.token_hex(4)}",
            "client_secret": f"cs-{secrets.token_urlsafe(18)}",
        },
    }


def write_versions(
    vault: VaultClient, nanoids: list[str] | tuple[str, ...], f: Fleet, threads: int
) -> float:
    """Write one new version for each auth config, ``threads`` at a time; seconds taken."""
    started = time.perf_counter()

    def one(nanoid: str) -> int:
        return vault.write_secret(MOUNT, f.path(nanoid), secret_data(nanoid))

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(nanoids) or 1))) as pool:
        for version in pool.map(one, nanoids):
            if version < 1:
                raise RuntimeError("Vault returned no version for a write")
    return time.perf_counter() - started
