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
from redis.client import NEVER_DECODE
from redis.lock import Lock

from rotator.core.circuit import decode
from rotator.core.errors import LockBusy, StateUnavailable
from rotator.core.models import AppliedState, Brief, LastError, Secret, StoredState
from rotator.core.states import ErrorKind
from rotator.state import connection as redis_conn
from rotator.state import records
from rotator.state.codec import Reply, applied_from, failures_from, flat, last_error_from
from rotator.state.keys import STREAM_MAXLEN, Keys
from rotator.state.lock import Begun, HeldLock, translated
from rotator.state.scripts import Scripts, raw_command
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

    def _raw(self, command: str, key: str) -> Reply:
        """One record read undecoded (``codec`` parses it); a key of another type gives its
        WRONGTYPE error as the reply, read as absent for its auth config alone."""
        try:
            return raw_command(self.redis, command, key)
        except redis.ResponseError as exc:
            if str(exc).startswith("WRONGTYPE"):
                return exc
            raise

    # applied state
    @translated
    def get_applied(self, nanoid: str) -> AppliedState | None:
        raw = self._raw("HGETALL", Keys.applied(nanoid))
        return records.Records(nanoid).parse(Keys.applied, applied_from, raw, None)

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
            applied=records.Records(nanoid).parse(Keys.applied, applied_from, opened.applied, None)
            if opened.took
            else None,
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
        """Store the last error, in one round trip (``lua.RECORD_ERROR``); return the count of
        consecutive permanent failures (a damaged count starts again)."""
        permanent = error.kind is ErrorKind.PERMANENT
        raw = self._scripts.record_error(nanoid, error.__dict__, audit, count=permanent)
        return records.Records(nanoid).parse(Keys.failures, failures_from, raw, 0)

    @translated
    def get_last_error(self, nanoid: str) -> LastError | None:
        raw = self._raw("HGETALL", Keys.last_error(nanoid))
        return records.Records(nanoid).parse(Keys.last_error, last_error_from, raw, None)

    @translated
    def consecutive_failures(self, nanoid: str) -> int:
        raw = self._raw("GET", Keys.failures(nanoid))
        return records.Records(nanoid).parse(Keys.failures, failures_from, raw, 0)

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
        return self._entries("XRANGE", Keys.dead_letter, "-", "+", "COUNT", count)

    @translated
    def remove_dead_letters(self, ids: list[str]) -> int:
        return int(self.redis.xdel(Keys.dead_letter, *ids)) if ids else 0

    @translated
    def audit_events(self, count: int = 1000) -> list[tuple[str, dict[str, str]]]:
        return self._entries("XRANGE", Keys.audit, "-", "+", "COUNT", count)

    @translated
    def audit_newest(
        self, *, before: str = "+", oldest: str = "-", count: int = 500
    ) -> list[tuple[str, dict[str, str]]]:
        """Audit events newest first (XREVRANGE), from ``before`` down to ``oldest``."""
        return self._entries("XREVRANGE", Keys.audit, before, oldest, "COUNT", count)

    @translated
    def audit_after(self, last: str, *, block_ms: int) -> list[tuple[str, dict[str, str]]]:
        """Audit events after ``last`` ("$": from now), waiting up to ``block_ms`` (0: no wait)."""
        wait = ["BLOCK", block_ms] if block_ms else []
        res = raw_command(self.redis, "XREAD", "COUNT", 100, *wait, "STREAMS", Keys.audit, last)
        return records.entries(Keys.audit, [e for _stream, got in res or [] for e in got])

    def _entries(self, command: str, key: str, *args: object) -> list[tuple[str, dict[str, str]]]:
        """A stream's entries read undecoded, each decoded on its own (``records.entries``)."""
        return records.entries(key, raw_command(self.redis, command, key, *args))

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
        raw: dict[str, object] = {NEVER_DECODE: []}  # each member is decoded on its own
        pipe.execute_command("SMEMBERS", Keys.paused_ids, **raw)  # type: ignore[no-untyped-call]
        everything, ids = pipe.execute()
        return bool(everything), records.members(Keys.paused_ids, ids)

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
        raw = self._scripts.stored(nanoids)
        return {n: records.stored(n, r) for n, r in zip(nanoids, raw, strict=True)}

    @translated
    def briefs(self, nanoids: list[str]) -> dict[str, Brief]:
        """What the sweep needs per auth config: one script call per 1,024 of them. A damaged
        record reads as absent for its auth config alone (``Brief.unreadable``)."""
        raw = self._scripts.briefs(nanoids)
        return {n: records.brief(n, r) for n, r in zip(nanoids, raw, strict=True)}
