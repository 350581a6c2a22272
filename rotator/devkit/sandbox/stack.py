"""A whole local stack on loopback: OpenBao dev, Redis and the Composio emulator.

Used by ``rotator demo``, the end-to-end tests and the benchmarks. ``env()`` gives the rotator
settings that point at it, exactly as an operator would set them. ``StackBase`` is the one
builder: ``LocalStack`` runs the emulator in this process, the benchmark's stack
(``benchmarks.suite.stack``) runs it as a subprocess.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from rotator.devkit.emulator import Emulator
from rotator.devkit.sandbox.servers import OpenBaoServer, RedisServer

__all__ = ["EmulatorLike", "LocalStack", "StackBase"]


class EmulatorLike(Protocol):
    """What the stack needs of an emulator: start, stop, and where it listens once started."""

    @property
    def url(self) -> str: ...
    def start(self) -> object: ...
    def stop(self) -> None: ...


E = TypeVar("E", bound=EmulatorLike)


class StackBase(Generic[E]):
    """OpenBao, Redis and an emulator (made by ``emulator_for(composio_key)``), started in that
    order and stopped in reverse on exit, whatever happened."""

    def __init__(
        self,
        emulator_for: Callable[[str], E],
        *,
        composio_key: str,
        redis_appendonly: bool = False,
    ) -> None:
        self.composio_key = composio_key
        self.fingerprint_key = secrets.token_hex(32)
        self.bao = OpenBaoServer()
        self.redis = RedisServer(appendonly=redis_appendonly)
        self.emulator: E = emulator_for(composio_key)
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

    def base_env(self, *, prefix: str = "composio/auth_configs", db: int = 0) -> dict[str, str]:
        """The settings that point rotator at this stack (Vault prefix and Redis database)."""
        return {
            "VAULT_ADDR": self.bao.addr,
            "VAULT_TOKEN": self.bao.root_token.reveal(),
            "ROTATOR_VAULT_MOUNT": "secret",
            "ROTATOR_VAULT_PREFIX": prefix,
            "COMPOSIO_BASE_URL": self.emulator.url,
            "COMPOSIO_API_KEY": self.composio_key,
            "ROTATOR_REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/{db}",
            "ROTATOR_FINGERPRINT_KEY": self.fingerprint_key,
        }


class LocalStack(StackBase[Emulator]):
    """Start with ``with LocalStack() as stack:``; the emulator runs in this process."""

    def __init__(
        self,
        *,
        composio_key: str | None = None,
        rate_limit: int | None = None,
        redis_appendonly: bool = False,
    ) -> None:
        super().__init__(
            lambda key: Emulator(api_keys=[key], rate_limit=rate_limit),
            composio_key=composio_key or f"ck_{secrets.token_hex(12)}",
            redis_appendonly=redis_appendonly,
        )

    def env(self, **overrides: str) -> dict[str, str]:
        """Settings (environment variables) that point rotator at this stack; an override of
        ``""`` removes that setting."""
        env = {**self.base_env(), **overrides}
        return {k: v for k, v in env.items() if v != ""}
