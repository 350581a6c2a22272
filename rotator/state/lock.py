"""Redis errors translated once (``translated``), the per-auth-config lock a process holds, and
``best_effort`` for state writes whose loss is harmless. Part of the Redis seam with state.py."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import redis
import structlog
from redis.exceptions import LockError
from redis.lock import Lock

from rotator.core.circuit import CLOSED, Circuit
from rotator.core.errors import LockBusy, StateUnavailable
from rotator.core.models import AppliedState

__all__ = ["KEEPER", "Begun", "HeldLock", "LockKeeper", "best_effort", "translated"]

log = structlog.get_logger("rotator.state")

P = ParamSpec("P")
R = TypeVar("R")


def translated(fn: Callable[P, R]) -> Callable[P, R]:
    """Redis errors become ``StateUnavailable`` (transient), raised once, from the cause."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise StateUnavailable(f"Redis state store: {type(exc).__name__}") from exc

    return wrapper


def best_effort(write: Callable[[], object]) -> None:
    """A state write whose loss costs at most a harmless re-push (or a dedupe key that expires
    on its own): log ``state.write_failed`` instead of failing the rotation or the task."""
    try:
        write()
    except StateUnavailable as exc:
        log.warning("state.write_failed", error=str(exc))


class LockKeeper:
    """Renews every lock this process holds at a third of its TTL, from one daemon thread, so
    a lock lives as long as its holder: a SIGKILLed holder's lock expires one TTL later (30 s
    with the defaults) instead of holding its redelivered rotation back."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[Lock, float, float]] = {}  # id -> (lock, ttl, next renewal)
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, lock: Lock, ttl: float) -> None:
        with self._guard:
            self._held[id(lock)] = (lock, ttl, time.monotonic() + ttl / 3)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="rotator-locks", daemon=True)
                self._thread.start()

    def drop(self, lock: Lock) -> None:
        with self._guard:
            self._held.pop(id(lock), None)

    def renew_due(self, now: float) -> None:
        """Renew the locks whose renewal is due; a lock lost meanwhile is dropped (the renewal
        before the PATCH then reports it as ``LockBusy``)."""
        with self._guard:
            due = [(k, lock, ttl) for k, (lock, ttl, at) in self._held.items() if at <= now]
        for key, lock, ttl in due:
            try:
                lock.reacquire()
            except LockError:
                self.drop(lock)
                continue
            except redis.RedisError:
                continue  # Redis away: try again at the next tick
            with self._guard:
                if key in self._held:
                    self._held[key] = (lock, ttl, now + ttl / 3)

    def _run(self) -> None:
        while True:
            time.sleep(0.5)
            self.renew_due(time.monotonic())


KEEPER = LockKeeper()


class HeldLock:
    """A lock this process holds, renewed by ``KEEPER`` until released; its errors are
    translated like every Redis error."""

    def __init__(self, lock: Lock, nanoid: str, *, ttl: float) -> None:
        self._lock = lock
        self._nanoid = nanoid
        KEEPER.hold(lock, ttl)
        self.released = False
        self._renewed = time.monotonic()  # taken, or last renewed by ``renew``

    @classmethod
    def adopt(
        cls, client: redis.Redis, key: str, token: str, *, ttl: float, nanoid: str
    ) -> HeldLock:
        """A lock already taken with ``SET key token NX PX`` (in a pipeline with other reads)."""
        lock = Lock(client, key, timeout=ttl, thread_local=False)  # KEEPER renews it elsewhere
        lock.local.token = token.encode()
        return cls(lock, nanoid, ttl=ttl)

    @property
    def key(self) -> str:
        return str(self._lock.name)

    @property
    def token(self) -> str:
        return bytes(self._lock.local.token or b"").decode()

    def renew(self, *, if_older_than: float = 0.0) -> None:
        """Reset the TTL to its full length; ``LockBusy`` if the lock expired and was taken.
        A lock taken or renewed less than ``if_older_than`` s ago is left as it is (no round
        trip): it has at least its TTL less that left, and ``KEEPER`` keeps renewing it."""
        if time.monotonic() - self._renewed < if_older_than:
            return
        try:
            self._lock.reacquire()
            self._renewed = time.monotonic()
        except LockError as exc:
            raise LockBusy(f"{self._nanoid}: the lock expired before the PATCH") from exc
        except redis.RedisError as exc:
            raise StateUnavailable(f"Redis state store: {type(exc).__name__}") from exc

    def released_by_pipeline(self) -> None:
        """The lock was released with other writes in one round trip: stop renewing it."""
        self.released = True
        KEEPER.drop(self._lock)

    def release(self) -> None:
        """Release if still ours (a lock that expired is simply gone); once."""
        if self.released:
            return
        KEEPER.drop(self._lock)
        try:
            self._lock.release()
        except LockError:
            return
        except redis.RedisError as exc:
            raise StateUnavailable(f"Redis state store: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class Begun:
    """What a rotation learns in its first round trip: paused?, the lock (None: another
    rotation holds it), the applied state (read under the lock; None without it) and the
    breaker."""

    nanoid: str
    paused: bool
    lock: HeldLock | None
    applied: AppliedState | None
    lock_ttl: float
    circuit: Circuit = CLOSED  # the fleet breaker as read in the same round trip

    def held(self) -> HeldLock:
        if self.lock is None:
            raise LockBusy(
                f"{self.nanoid}: another rotation holds the lock", earliest=min(self.lock_ttl, 5.0)
            )
        return self.lock
