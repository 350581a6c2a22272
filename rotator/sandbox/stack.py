"""A whole local stack on loopback: OpenBao dev, Redis and the Composio emulator.

Used by ``rotator demo``, the end-to-end tests and the benchmarks. ``env()`` gives the rotator
settings that point at it, exactly as an operator would set them.
"""

from __future__ import annotations

import secrets
from contextlib import ExitStack
from types import TracebackType
from typing import Self

from rotator.emulator import Emulator
from rotator.sandbox.servers import OpenBaoServer, RedisServer

__all__ = ["LocalStack"]


class LocalStack:
    """Start with ``with LocalStack() as stack:``; everything stops on exit, whatever happened."""

    def __init__(
        self,
        *,
        composio_key: str | None = None,
        rate_limit: int | None = None,
        redis_appendonly: bool = False,
    ) -> None:
        self.composio_key = composio_key or f"ck_{secrets.token_hex(12)}"
        self.fingerprint_key = secrets.token_hex(32)
        self.bao = OpenBaoServer()
        self.redis = RedisServer(appendonly=redis_appendonly)
        self.emulator = Emulator(api_keys=[self.composio_key], rate_limit=rate_limit)
        self._stack = ExitStack()

    def start(self) -> Self:
        try:
            self._stack.enter_context(self.bao)
            self._stack.enter_context(self.redis)
            self.emulator.start()
            self._stack.callback(self.emulator.stop)
        except BaseException:
            self._stack.close()
            raise
        return self

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def env(self, **overrides: str) -> dict[str, str]:
        """Settings (environment variables) that point rotator at this stack."""
        env = {
            "VAULT_ADDR": self.bao.addr,
            "VAULT_TOKEN": self.bao.root_token.reveal(),
            "ROTATOR_VAULT_MOUNT": "secret",
            "ROTATOR_VAULT_PREFIX": "composio/auth_configs",
            "COMPOSIO_BASE_URL": self.emulator.url,
            "COMPOSIO_API_KEY": self.composio_key,
            "ROTATOR_REDIS_URL": self.redis.url,
            "ROTATOR_FINGERPRINT_KEY": self.fingerprint_key,
        }
        env.update(overrides)
        return {k: v for k, v in env.items() if v != ""}
