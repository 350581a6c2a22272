"""rotator's share of Composio's rate limit, shared by every worker and thread through Redis.

Composio counts requests per organisation in a fixed window (2,000/min on Starter), shared with
every other client of the organisation, and announces the limit on every answer. The decisions
(how much to take, when to slow down) are pure, in ``rotator.ratelimit_policy``; this module does
the Redis part. ``RateLimiter`` keeps rotator within its ``Budget`` with GCRA (the generic cell
rate algorithm): one hash in Redis holds the theoretical arrival time of the next request; a Lua
script run with EVALSHA (EVAL when the server does not know the script) grants a request or says
how long to wait, in one round trip, on the Redis server's clock (``TIME``), so workers' clocks
do not matter. A refused call consumes nothing.

Learning: the same hash holds the limit Composio last announced (kept a day). Every acquire's
reply carries it back, so each process follows a limit another one learned at no extra cost;
``observe`` writes it only when an answer announces something other than what this process
knows, and only the process whose write changed the stored value logs ``ratelimit.learned``.

``observe`` also adapts down: a 429, or ``X-RateLimit-Remaining`` under ``low_water`` of
``X-RateLimit`` while our own share cannot explain it (someone else is using the
organisation's budget), lowers the shared rate by a factor stored in the same hash, for one
window after the latest such answer. A 429 with ``Retry-After`` also holds every worker back
until then (capped at one window). Healthy answers with a known limit cost no Redis call.

Redis errors fail OPEN: a limiter that cannot reach Redis grants every request and logs
``ratelimit.unavailable`` (at most every 30 s per process). A limiter outage must never stop
rotations; Composio's own 429s and the retry policy remain the backstop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

from rotator import redis_conn
from rotator.config import Settings
from rotator.models import ResponseInfo, Secret
from rotator.ratelimit_policy import (
    Adaptation,
    Announced,
    Budget,
    adaptation,
    announced,
    budget,
    decode_learned,
    encode_learned,
)
from rotator.redis_threads import ThreadClients
from rotator.state import Keys

__all__ = ["Adaptation", "RateLimiter", "adaptation"]

log = structlog.get_logger("rotator.ratelimit")

_US = 1_000_000
_WARN_EVERY = 30.0

# Shared by both scripts: the time (ARGV's injected clock, else the server's) in microseconds,
# the hash's fields, and its expiry (a day while a learned limit is in it).
_HEAD = """
local now = tonumber(ARGV[#ARGV])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local h = redis.call('HMGET', KEYS[1], 'tat', 'factor', 'until', 'hold', 'limit', 'window')
local function fmt(x) return string.format('%.0f', x) end
local function expire(last, learned)
  local ms = math.ceil((math.max(last, now) - now) / 1000) + 1000
  if learned then ms = math.max(ms, 86400000) end
  redis.call('PEXPIRE', KEYS[1], ms)
end
"""

# ARGV: interval (us), tolerance (us), now. Returns {0 (granted) or the wait in microseconds,
# learned limit, learned window} ('' when none is learned).
_ACQUIRE = (
    _HEAD
    + """
local learned = {h[5] or '', h[6] or ''}
local hold = tonumber(h[4]) or 0
if hold > now then return {math.ceil(hold - now), learned[1], learned[2]} end
local untl = tonumber(h[3]) or 0
local factor = 1
if untl > now then factor = math.max(tonumber(h[2]) or 1, 0.01) end
local tat = math.max(tonumber(h[1]) or now, now)
local early = tat - now - tonumber(ARGV[2])
if early > 0 then return {math.ceil(early), learned[1], learned[2]} end
tat = tat + tonumber(ARGV[1]) / factor
redis.call('HSET', KEYS[1], 'tat', fmt(tat))
expire(math.max(tat, untl), h[5])
return {0, learned[1], learned[2]}
"""
)

# ARGV: factor (0: none), ttl (us), hold (us), limit ('': none), window, now.
# Returns {1 when the factor went down else 0, 1 when the learned limit changed else 0}.
_OBSERVE = (
    _HEAD
    + """
local changed, lowered = 0, 0
local learned = h[5]
if ARGV[4] ~= '' and (h[5] ~= ARGV[4] or h[6] ~= ARGV[5]) then
  redis.call('HSET', KEYS[1], 'limit', ARGV[4], 'window', ARGV[5])
  changed, learned = 1, ARGV[4]
end
local untl = tonumber(h[3]) or 0
local hold = tonumber(h[4]) or 0
local factor = tonumber(ARGV[1])
if factor > 0 then
  local current = 1
  if untl > now then current = tonumber(h[2]) or 1 end
  if factor <= current then
    untl = now + tonumber(ARGV[2])
    redis.call('HSET', KEYS[1], 'factor', ARGV[1], 'until', fmt(untl))
  end
  if factor < current then lowered = 1 end
  if tonumber(ARGV[3]) > 0 and now + tonumber(ARGV[3]) > hold then
    hold = now + tonumber(ARGV[3])
    redis.call('HSET', KEYS[1], 'hold', fmt(hold))
  end
end
expire(math.max(tonumber(h[1]) or 0, untl, hold), learned)
return {lowered, changed}
"""
)


@dataclass(frozen=True)
class _Current:
    """What this process knows: the learned limit, the budget, and GCRA's spacing (us)."""

    learned: Announced | None
    budget: Budget
    interval: float
    tolerance: float


class RateLimiter:
    """A GCRA limiter in Redis, shared by every process using the same ``key``; thread-safe.

    ``share`` of the announced limit, capped by ``cap`` (requests, per seconds); see
    ``rotator.ratelimit_policy.budget``. ``clock`` (seconds) replaces the Redis server's clock:
    for tests only, and then every user of the key must pass the same clock.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        share: float = 0.5,
        cap: tuple[float, float] | None = None,
        burst: int = 10,
        key: str = Keys.ratelimit,
        clock: Callable[[], float] | None = None,
        low_water: float = 0.1,
        low_factor: float = 0.5,
        throttled_factor: float = 0.25,
    ) -> None:
        if not 0 < share <= 1 or burst < 1 or (cap is not None and min(cap) <= 0):
            raise ValueError("share must be in (0, 1], burst at least 1, a cap positive")
        if not (0 < low_factor <= 1 and 0 < throttled_factor <= 1 and 0 <= low_water < 1):
            raise ValueError("factors must be in (0, 1] and low_water in [0, 1)")
        self.key = key
        self._client = client
        self._share, self._cap, self._burst = share, cap, burst
        self._clock = clock
        self._tuning = {
            "low_water": low_water,
            "low_factor": low_factor,
            "throttled_factor": throttled_factor,
        }
        self._mine = ThreadClients(client, again=False)  # acquire: a connection per thread
        self._acquire = client.register_script(_ACQUIRE)
        self._observe = client.register_script(_OBSERVE)
        self._warned_at = -_WARN_EVERY
        self._raw: tuple[bytes, bytes] = (b"", b"")
        self._current = self._know(None)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        share: float,
        cap: tuple[float, float] | None,
        burst: int,
        sentinel_master: str | None = None,
        sentinel_password: Secret | None = None,
    ) -> RateLimiter:
        """A limiter with its own Redis client: 1 s timeouts, one immediate retry, so that a
        Redis outage costs each request at most a couple of seconds before failing open."""
        sockets = {**redis_conn.LIMITER_SOCKETS, "retry": Retry(NoBackoff(), 1)}
        spec = redis_conn.RedisSpec(url, sentinel_master, sentinel_password)
        client = redis_conn.client(spec, sockets=sockets)
        return cls(client, share=share, cap=cap, burst=burst)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter | None:
        """The limiter the settings ask for; None when ``ROTATOR_RATE_LIMIT=0`` turns it off."""
        cap = settings.rate_limit
        if not settings.rate_limit_auto and cap is None:
            return None
        return cls.from_url(
            settings.redis_url,
            share=settings.rate_limit_share,
            cap=cap,
            burst=settings.rate_limit_burst,
            sentinel_master=settings.redis_sentinel_master,
            sentinel_password=settings.redis_sentinel_password,
        )

    @property
    def budget(self) -> Budget:
        """The budget this process currently grants by."""
        return self._current.budget

    def acquire(self) -> float:
        """Take one request's slot: 0.0 = go now, else seconds to wait before asking again."""
        current = self._current
        try:
            args = (current.interval, current.tolerance, self._now())
            wait, limit, window = self._mine.call(
                lambda mine: self._acquire(keys=[self.key], args=args, client=mine)
            )
        except redis.RedisError as exc:
            self._fail_open("acquire", exc)
            return 0.0
        if (limit, window) != self._raw:  # another process learned a limit (or it expired)
            self._raw = (limit, window)
            self._current = self._know(decode_learned(limit, window))
        return int(wait) / _US

    def observe(self, info: ResponseInfo) -> None:
        """Learn the announced limit and adapt the shared rate to what Composio said."""
        seen = announced(info.rate_limit, info.rate_window)
        learn = seen if seen is not None and seen != self._current.learned else None
        current = self._current if learn is None else self._know(learn)
        change = adaptation(info, own_rate=current.budget.per_second, **self._tuning)
        if learn is None and change is None:
            return
        limit, window = encode_learned(learn) if learn is not None else ("", "")
        factor, ttl, hold = (change.factor, change.ttl, change.hold) if change else (0, 0, 0)
        try:
            args = (factor, ttl * _US, hold * _US, limit, window, self._now())
            lowered, changed = self._observe(keys=[self.key], args=args)
        except redis.RedisError as exc:
            self._fail_open("observe", exc)
            return
        if learn is not None:
            self._current = current
            if changed:
                self._log_learned(learn)
        if change is not None and (lowered or change.hold):
            log.warning(
                "ratelimit.adapted",
                factor=change.factor,
                for_s=change.ttl,
                hold_s=change.hold,
                reason=change.reason,
            )

    def close(self) -> None:
        """Close the Redis client given to (or made by) this limiter."""
        self._client.close()

    def _know(self, learned: Announced | None) -> _Current:
        chosen = budget(learned, share=self._share, cap=self._cap, burst=self._burst)
        interval, tolerance = chosen.spacing()
        return _Current(learned, chosen, interval * _US, tolerance * _US)

    def _log_learned(self, learned: Announced) -> None:
        chosen = self._current.budget
        log.info(
            "ratelimit.learned",
            limit=learned.limit,
            window_s=learned.window,
            share=self._share,
            rate=round(chosen.per_second, 3),
            capped=chosen.source == "cap",
        )

    def _now(self) -> str:
        return "" if self._clock is None else f"{self._clock() * _US:.0f}"

    def _fail_open(self, op: str, exc: redis.RedisError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("ratelimit.unavailable", op=op, error=type(exc).__name__, fail_open=True)
