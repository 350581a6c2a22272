"""Rotation state in Redis: applied versions, last errors, locks, audit and dead-letter streams.

Nothing here ever holds a secret value: versions, HMAC fingerprints, request ids, statuses,
slugs and already-redacted messages only. Losing all of it costs one harmless re-push per auth
config. Every key name is built in ``Keys``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import cast

import redis
from redis.lock import Lock

from rotator.core.circuit import decode
from rotator.core.errors import LockBusy, StateUnavailable
from rotator.core.models import AppliedState, Brief, LastError, Secret, StoredState
from rotator.core.states import ErrorKind
from rotator.state import connection as redis_conn
from rotator.state.codec import applied_from, flat, last_error_from, opt_int
from rotator.state.keys import STREAM_MAXLEN, Keys
from rotator.state.lock import Begun, HeldLock, translated
from rotator.state.scripts import Scripts
from rotator.state.url import RedisSettings

# Keys is re-exported: ratelimit.py and tests/integration/test_ratelimit.py import it from here.
__all__ = ["Begun", "Keys", "StateStore"]


class StateStore:
    """The only module that talks to Redis for rotation state; its errors are translated."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._scripts = Scripts(client)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        sentinel_master: str | None = None,
        sentinel_password: Secret | None = None,
    ) -> StateStore:
        """A store on ``url`` (plain, TLS, unix or Sentinel: ``rotator.state.connection``)."""
        spec = redis_conn.RedisSpec(url, sentinel_master, sentinel_password)
        return cls(redis_conn.client(spec, decode_responses=True))

    @translated
    def ping(self) -> bool:
        return bool(self.redis.ping())

    def primary(self, spec: RedisSettings) -> str:
        """The Redis probe of ``check`` and ``health``: a ping, then where writes go now (for a
        Sentinel group, the primary the sentinels name). ``StateUnavailable`` names the cause."""
        try:
            self.redis.ping()
            return f"primary {redis_conn.current_primary(spec)}"
        except redis.RedisError as exc:
            raise StateUnavailable(f"Redis: {type(exc).__name__}: {exc}") from exc

    @translated
    def server_info(self) -> dict[str, object]:
        """Version, AOF and eviction policy (INFO: works where CONFIG GET is disabled)."""
        info: dict[str, object] = {}
        for section in ("server", "persistence", "memory"):
            info.update(cast(dict[str, object], self.redis.info(section)))
        return info

    def close(self) -> None:
        self.redis.close()

    # applied state
    @translated
    def get_applied(self, nanoid: str) -> AppliedState | None:
        return applied_from(cast(dict[str, str], self.redis.hgetall(Keys.applied(nanoid))))

    @translated
    def begin(self, nanoid: str, *, ttl: float) -> Begun:
        """One round trip (``state_scripts.BEGIN``): the pause switches, the lock (a random
        token), under it the applied state, and the fleet breaker."""
        token = uuid.uuid4().hex
        opened = self._scripts.begin(nanoid, token, max(1, int(ttl * 1000)))
        lock = None
        if opened.took:
            lock = HeldLock.adopt(self.redis, Keys.lock(nanoid), token, ttl=ttl, nanoid=nanoid)
        return Begun(
            nanoid=nanoid,
            paused=opened.paused,
            lock=lock,
            applied=applied_from(opened.applied) if opened.took else None,
            lock_ttl=ttl,
            circuit=decode(opened.circuit),
        )

    @translated
    def record_success(
        self,
        nanoid: str,
        applied: AppliedState,
        *,
        audit: Mapping[str, object],
        release: HeldLock | None = None,
    ) -> None:
        """Record, audit, drop the sweep's dedupe key (the rotation is done) and (with
        ``release``) release the lock, in one round trip (``state_scripts.RECORD``)."""
        lock = (release.key, release.token) if release is not None else None
        self._scripts.record(nanoid, applied.__dict__, audit, lock)
        if release is not None:
            release.released_by_pipeline()

    @translated
    def forget(self, nanoid: str) -> None:
        self.redis.delete(Keys.applied(nanoid), Keys.last_error(nanoid), Keys.failures(nanoid))

    # errors
    @translated
    def record_error(self, nanoid: str, error: LastError, *, audit: Mapping[str, object]) -> int:
        """Store the last error; return the count of consecutive permanent failures."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(Keys.last_error(nanoid))
        pipe.hset(Keys.last_error(nanoid), mapping=flat(error.__dict__))
        if error.kind is ErrorKind.PERMANENT:
            pipe.incr(Keys.failures(nanoid))
        else:
            pipe.get(Keys.failures(nanoid))
        pipe.xadd(Keys.audit, flat(audit), maxlen=STREAM_MAXLEN, approximate=True)
        res = pipe.execute()
        return int(res[2] or 0)

    @translated
    def get_last_error(self, nanoid: str) -> LastError | None:
        return last_error_from(cast(dict[str, str], self.redis.hgetall(Keys.last_error(nanoid))))

    @translated
    def consecutive_failures(self, nanoid: str) -> int:
        return int(cast(str | None, self.redis.get(Keys.failures(nanoid))) or 0)

    # streams
    @translated
    def audit(self, entry: Mapping[str, object]) -> None:
        """One audit event with no state change (a rotation skipped because it is paused)."""
        self.redis.xadd(Keys.audit, flat(entry), maxlen=STREAM_MAXLEN, approximate=True)

    @translated
    def dead_letter(self, entry: Mapping[str, object]) -> str:
        return str(
            self.redis.xadd(Keys.dead_letter, flat(entry), maxlen=STREAM_MAXLEN, approximate=True)
        )

    @translated
    def dead_letters(self, count: int = 1000) -> list[tuple[str, dict[str, str]]]:
        return cast(
            list[tuple[str, dict[str, str]]], self.redis.xrange(Keys.dead_letter, count=count)
        )

    @translated
    def remove_dead_letters(self, ids: list[str]) -> int:
        return int(self.redis.xdel(Keys.dead_letter, *ids)) if ids else 0

    @translated
    def audit_events(self, count: int = 1000) -> list[tuple[str, dict[str, str]]]:
        return cast(list[tuple[str, dict[str, str]]], self.redis.xrange(Keys.audit, count=count))

    @translated
    def audit_newest(
        self, *, before: str = "+", oldest: str = "-", count: int = 500
    ) -> list[tuple[str, dict[str, str]]]:
        """Audit events newest first (XREVRANGE), from ``before`` down to ``oldest``."""
        return cast(
            list[tuple[str, dict[str, str]]],
            self.redis.xrevrange(Keys.audit, max=before, min=oldest, count=count),
        )

    @translated
    def audit_after(self, last: str, *, block_ms: int) -> list[tuple[str, dict[str, str]]]:
        """Audit events after ``last`` ("$": from now), waiting up to ``block_ms`` (0: no wait)."""
        res = cast(
            list[tuple[str, list[tuple[str, dict[str, str]]]]],
            self.redis.xread({Keys.audit: last}, count=100, block=block_ms or None),
        )
        return [entry for _stream, entries in res or [] for entry in entries]

    # locks
    @translated
    def lock(self, nanoid: str, *, ttl: float, wait: float = 0.0) -> HeldLock:
        """Acquire the per-auth-config lock (random token, TTL, Lua-checked release) or raise."""
        lock: Lock = self.redis.lock(
            Keys.lock(nanoid),
            timeout=ttl,
            blocking=wait > 0,
            blocking_timeout=wait or None,
            thread_local=False,  # renewed from the keeper thread while this process holds it
        )
        if not lock.acquire():
            raise LockBusy(f"{nanoid}: another rotation holds the lock", earliest=min(ttl, 5.0))
        return HeldLock(lock, nanoid, ttl=ttl)

    # operator switches and sweep bookkeeping
    @translated
    def pause(self, nanoid: str | None = None) -> None:
        if nanoid is None:
            self.redis.set(Keys.paused, "1")
        else:
            self.redis.sadd(Keys.paused_ids, nanoid)

    @translated
    def resume(self, nanoid: str | None = None) -> None:
        if nanoid is None:
            self.redis.delete(Keys.paused)
        else:
            self.redis.srem(Keys.paused_ids, nanoid)

    @translated
    def paused(self) -> tuple[bool, set[str]]:
        """(everything paused?, the auth configs paused one by one)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(Keys.paused)
        pipe.smembers(Keys.paused_ids)
        everything, ids = pipe.execute()
        return bool(everything), set(ids)

    def claim_queue(self, nanoid: str, *, ttl: float) -> bool:
        """Mark an auth config as queued; False when it already is (the sweep's dedupe key)."""
        return bool(self.claim_queues([nanoid], ttl=ttl))

    @translated
    def claim_queues(self, nanoids: list[str], *, ttl: float) -> list[str]:
        """``claim_queue`` for many, one script call per 1,024: those now claimed, in order."""
        took = self._scripts.queued(nanoids, int(ttl * 1000), renew=False)
        return [n for n, t in zip(nanoids, took, strict=True) if t]

    @translated
    def extend_queue(self, nanoid: str, *, ttl: float) -> None:
        self.redis.set(Keys.queued(nanoid), "1", px=int(ttl * 1000))

    @translated
    def renew_queued(self, nanoids: list[str], *, ttl: float) -> None:
        """Renew the dedupe keys of rotations a live worker holds; a released key stays gone."""
        if nanoids:
            self._scripts.queued(nanoids, int(ttl * 1000), renew=True)

    @translated
    def release_queue(self, nanoid: str) -> None:
        self.redis.delete(Keys.queued(nanoid))

    @translated
    def record_sweep(self, summary: Mapping[str, object]) -> None:
        self.redis.delete(Keys.last_sweep)
        self.redis.hset(Keys.last_sweep, mapping=flat(summary))

    @translated
    def last_sweep(self) -> dict[str, str]:
        return cast(dict[str, str], self.redis.hgetall(Keys.last_sweep))

    @translated
    def stored(self, nanoids: list[str]) -> dict[str, StoredState]:
        """Applied state, last error and failure count of each auth config: one script call
        per 1,024 of them (``state_scripts.READ_STORED``)."""
        return {
            nanoid: StoredState(
                applied=applied_from(applied),
                last_error=last_error_from(error),
                failures=int(failures or 0),
            )
            for nanoid, (applied, error, failures) in zip(
                nanoids, self._scripts.stored(nanoids), strict=True
            )
        }

    @translated
    def briefs(self, nanoids: list[str]) -> dict[str, Brief]:
        """What the sweep needs per auth config: one script call per 1,024 of them."""
        out = {}
        for nanoid, (version, at, created, err_version, err_created, failures) in zip(
            nanoids, self._scripts.briefs(nanoids), strict=True
        ):
            out[nanoid] = Brief(
                applied_version=opt_int(version),
                applied_at=float(at) if at else None,
                failures=int(failures or 0),
                error_version=opt_int(err_version),
                applied_created=created,
                error_created=err_created,
            )
        return out
