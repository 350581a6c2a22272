"""Rotation state in Redis: applied versions, last errors, locks, audit and dead-letter streams.

Nothing here ever holds a secret value: versions, HMAC fingerprints, request ids, statuses,
slugs and already-redacted messages only. Losing all of it costs one harmless re-push per auth
config. Every key name is built in ``Keys``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ParamSpec, TypeVar, cast

import redis
import structlog
from redis.exceptions import LockError
from redis.lock import Lock

from rotator import redis_conn
from rotator.errors import LockBusy, StateUnavailable
from rotator.models import AppliedState, Secret

log = structlog.get_logger("rotator.state")

__all__ = ["Brief", "HeldLock", "Keys", "LastError", "StateStore", "best_effort"]

STREAM_MAXLEN = 100_000


class Keys:
    """Every Redis key rotator uses, in one place."""

    prefix = "rotator"

    @classmethod
    def applied(cls, nanoid: str) -> str:
        return f"{cls.prefix}:applied:{nanoid}"

    @classmethod
    def last_error(cls, nanoid: str) -> str:
        return f"{cls.prefix}:error:{nanoid}"

    @classmethod
    def lock(cls, nanoid: str) -> str:
        return f"{cls.prefix}:lock:{nanoid}"

    @classmethod
    def failures(cls, nanoid: str) -> str:
        return f"{cls.prefix}:failures:{nanoid}"

    @classmethod
    def queued(cls, nanoid: str) -> str:
        return f"{cls.prefix}:queued:{nanoid}"

    audit = "rotator:audit"
    dead_letter = "rotator:dlq"
    paused = "rotator:paused"
    paused_ids = "rotator:paused_ids"
    last_sweep = "rotator:sweep:last"
    ratelimit = "rotator:ratelimit:composio"


@dataclass(frozen=True)
class LastError:
    kind: str  # "transient" | "permanent"
    message: str
    at: float
    status: int | None = None
    slug: str | None = None
    request_id: str | None = None
    attempts: int = 0
    vault_version: int | None = None


@dataclass(frozen=True)
class Brief:
    """The sweep's view of one auth config's state."""

    applied_version: int | None
    applied_at: float | None
    failures: int
    error_version: int | None


def _opt_int(raw: str | None) -> int | None:
    return int(raw) if raw not in (None, "") else None


_Field = bytes | bytearray | memoryview | str | int | float


def _flat(fields: Mapping[str, object]) -> dict[_Field, _Field]:
    return {k: str(v) for k, v in fields.items() if v is not None}


P = ParamSpec("P")
R = TypeVar("R")


def _translated(fn: Callable[P, R]) -> Callable[P, R]:
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


class HeldLock:
    """A lock this process holds; its errors are translated like every Redis error."""

    def __init__(self, lock: Lock, nanoid: str) -> None:
        self._lock = lock
        self._nanoid = nanoid

    def renew(self) -> None:
        """Reset the TTL to its full length; ``LockBusy`` if the lock expired and was taken."""
        try:
            self._lock.reacquire()
        except LockError as exc:
            raise LockBusy(f"{self._nanoid}: the lock expired before the PATCH") from exc
        except redis.RedisError as exc:
            raise StateUnavailable(f"Redis state store: {type(exc).__name__}") from exc

    def release(self) -> None:
        """Release if still ours (a lock that expired is simply gone)."""
        try:
            self._lock.release()
        except LockError:
            return
        except redis.RedisError as exc:
            raise StateUnavailable(f"Redis state store: {type(exc).__name__}") from exc


class StateStore:
    """The only module that talks to Redis for rotation state; its errors are translated."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        sentinel_master: str | None = None,
        sentinel_password: Secret | None = None,
    ) -> StateStore:
        """A store on ``url`` (plain, TLS, unix or Sentinel: ``rotator.redis_conn``)."""
        spec = redis_conn.RedisSpec(url, sentinel_master, sentinel_password)
        return cls(redis_conn.client(spec, decode_responses=True))

    @_translated
    def ping(self) -> bool:
        return bool(self.redis.ping())

    def close(self) -> None:
        self.redis.close()

    # applied state
    @_translated
    def get_applied(self, nanoid: str) -> AppliedState | None:
        raw = cast(dict[str, str], self.redis.hgetall(Keys.applied(nanoid)))
        try:
            return AppliedState(
                version=int(raw["version"]),
                fingerprint=raw["fingerprint"],
                applied_at=float(raw["applied_at"]),
                request_id=raw.get("request_id") or None,
                vault_path=raw.get("vault_path") or None,
            )
        except (KeyError, ValueError):
            return None  # absent or damaged: treated as never applied -> a harmless re-push

    @_translated
    def record_success(
        self, nanoid: str, applied: AppliedState, *, audit: Mapping[str, object]
    ) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(Keys.applied(nanoid))
        pipe.hset(Keys.applied(nanoid), mapping=_flat(applied.__dict__))
        pipe.delete(Keys.last_error(nanoid), Keys.failures(nanoid))
        pipe.xadd(Keys.audit, _flat(audit), maxlen=STREAM_MAXLEN, approximate=True)
        pipe.execute()

    @_translated
    def forget(self, nanoid: str) -> None:
        self.redis.delete(Keys.applied(nanoid), Keys.last_error(nanoid), Keys.failures(nanoid))

    # errors
    @_translated
    def record_error(self, nanoid: str, error: LastError, *, audit: Mapping[str, object]) -> int:
        """Store the last error; return the count of consecutive permanent failures."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(Keys.last_error(nanoid))
        pipe.hset(Keys.last_error(nanoid), mapping=_flat(error.__dict__))
        if error.kind == "permanent":
            pipe.incr(Keys.failures(nanoid))
        else:
            pipe.get(Keys.failures(nanoid))
        pipe.xadd(Keys.audit, _flat(audit), maxlen=STREAM_MAXLEN, approximate=True)
        res = pipe.execute()
        return int(res[2] or 0)

    @_translated
    def get_last_error(self, nanoid: str) -> LastError | None:
        raw = cast(dict[str, str], self.redis.hgetall(Keys.last_error(nanoid)))
        if not raw:
            return None
        try:
            return LastError(
                kind=raw.get("kind", "?"),
                message=raw.get("message", ""),
                at=float(raw.get("at", 0)),
                status=_opt_int(raw.get("status")),
                slug=raw.get("slug") or None,
                request_id=raw.get("request_id") or None,
                attempts=int(raw.get("attempts", 0)),
                vault_version=_opt_int(raw.get("vault_version")),
            )
        except ValueError:
            return None

    @_translated
    def consecutive_failures(self, nanoid: str) -> int:
        return int(cast(str | None, self.redis.get(Keys.failures(nanoid))) or 0)

    # streams
    @_translated
    def dead_letter(self, entry: Mapping[str, object]) -> str:
        return str(
            self.redis.xadd(Keys.dead_letter, _flat(entry), maxlen=STREAM_MAXLEN, approximate=True)
        )

    @_translated
    def dead_letters(self, count: int = 1000) -> list[tuple[str, dict[str, str]]]:
        return cast(
            list[tuple[str, dict[str, str]]], self.redis.xrange(Keys.dead_letter, count=count)
        )

    @_translated
    def remove_dead_letters(self, ids: list[str]) -> int:
        return int(self.redis.xdel(Keys.dead_letter, *ids)) if ids else 0

    @_translated
    def audit_events(self, count: int = 1000) -> list[tuple[str, dict[str, str]]]:
        return cast(list[tuple[str, dict[str, str]]], self.redis.xrange(Keys.audit, count=count))

    @_translated
    def audit_after(self, last: str, *, block_ms: int) -> list[tuple[str, dict[str, str]]]:
        """Audit events after ``last`` ("$": from now), waiting up to ``block_ms`` (0: no wait)."""
        res = cast(
            list[tuple[str, list[tuple[str, dict[str, str]]]]],
            self.redis.xread({Keys.audit: last}, count=100, block=block_ms or None),
        )
        return [entry for _stream, entries in res or [] for entry in entries]

    # locks
    @_translated
    def lock(self, nanoid: str, *, ttl: float, wait: float = 0.0) -> HeldLock:
        """Acquire the per-auth-config lock (random token, TTL, Lua-checked release) or raise."""
        lock: Lock = self.redis.lock(
            Keys.lock(nanoid), timeout=ttl, blocking=wait > 0, blocking_timeout=wait or None
        )
        if not lock.acquire():
            raise LockBusy(f"{nanoid}: another rotation holds the lock", retry_after=min(ttl, 5.0))
        return HeldLock(lock, nanoid)

    # operator switches and sweep bookkeeping
    @_translated
    def pause(self, nanoid: str | None = None) -> None:
        if nanoid is None:
            self.redis.set(Keys.paused, "1")
        else:
            self.redis.sadd(Keys.paused_ids, nanoid)

    @_translated
    def resume(self, nanoid: str | None = None) -> None:
        if nanoid is None:
            self.redis.delete(Keys.paused)
        else:
            self.redis.srem(Keys.paused_ids, nanoid)

    @_translated
    def paused(self) -> tuple[bool, set[str]]:
        """(everything paused?, the auth configs paused one by one)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(Keys.paused)
        pipe.smembers(Keys.paused_ids)
        everything, ids = pipe.execute()
        return bool(everything), set(ids)

    @_translated
    def is_paused(self, nanoid: str) -> bool:
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(Keys.paused)
        pipe.sismember(Keys.paused_ids, nanoid)
        return any(pipe.execute())

    @_translated
    def claim_queue(self, nanoid: str, *, ttl: float) -> bool:
        """Mark an auth config as queued; False when it already is (the sweep's dedupe key)."""
        return bool(self.redis.set(Keys.queued(nanoid), "1", nx=True, px=int(ttl * 1000)))

    @_translated
    def extend_queue(self, nanoid: str, *, ttl: float) -> None:
        self.redis.set(Keys.queued(nanoid), "1", px=int(ttl * 1000))

    @_translated
    def release_queue(self, nanoid: str) -> None:
        self.redis.delete(Keys.queued(nanoid))

    @_translated
    def record_sweep(self, summary: Mapping[str, object]) -> None:
        self.redis.delete(Keys.last_sweep)
        self.redis.hset(Keys.last_sweep, mapping=_flat(summary))

    @_translated
    def last_sweep(self) -> dict[str, str]:
        return cast(dict[str, str], self.redis.hgetall(Keys.last_sweep))

    @_translated
    def briefs(self, nanoids: list[str]) -> dict[str, Brief]:
        """What the sweep needs per auth config, in one round trip for all of them."""
        pipe = self.redis.pipeline(transaction=False)
        for nanoid in nanoids:
            pipe.hmget(Keys.applied(nanoid), ["version", "applied_at"])
            pipe.get(Keys.failures(nanoid))
            pipe.hget(Keys.last_error(nanoid), "vault_version")
        res = pipe.execute()
        out = {}
        for i, nanoid in enumerate(nanoids):
            (version, applied_at), failures, err_version = res[3 * i : 3 * i + 3]
            out[nanoid] = Brief(
                applied_version=_opt_int(version),
                applied_at=float(applied_at) if applied_at else None,
                failures=int(failures or 0),
                error_version=_opt_int(err_version),
            )
        return out
