"""rotator's own cap on requests to Composio, shared by every worker and thread through Redis.

Composio counts requests per organisation in a fixed one-minute window (2,000/min on Starter),
shared with every other client of the organisation. ``RateLimiter`` keeps rotator under a
configured budget with GCRA (the generic cell rate algorithm): one hash in Redis holds the
theoretical arrival time of the next request; a Lua script run with EVALSHA (EVAL when the
server does not know the script) grants a request or says how long to wait, in one round trip,
on the Redis server's clock (``TIME``), so workers' clocks do not matter. ``burst`` requests may
go at once; after that one every ``period / rate`` seconds. A refused call consumes nothing.

``observe`` adapts down: a 429, or ``X-RateLimit-Remaining`` under ``low_water`` of
``X-RateLimit`` (someone else is using the organisation's budget), lowers the shared rate by a
factor stored in the same hash, for one window (``X-RateLimit-Window-Size``, else 60 s) after
the latest such answer; then the configured rate is back. A 429 with ``Retry-After`` also holds
every worker back until then (capped at one window). Healthy answers cost no Redis call.

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
from rotator.state import Keys

__all__ = ["Adaptation", "RateLimiter", "adaptation"]

log = structlog.get_logger("rotator.ratelimit")

_US = 1_000_000
_WARN_EVERY = 30.0

# Shared by both scripts: the time (ARGV's injected clock, else the server's) in microseconds.
_NOW = """
local now = tonumber(ARGV[#ARGV])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function fmt(x) return string.format('%.0f', x) end
local function expire(last)
  redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(last, now) - now) / 1000) + 1000)
end
"""

# ARGV: interval (us), tolerance (us), now. Returns 0 (granted) or the wait in microseconds.
_ACQUIRE = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'tat', 'factor', 'until', 'hold')
local hold = tonumber(h[4]) or 0
if hold > now then return math.ceil(hold - now) end
local untl = tonumber(h[3]) or 0
local factor = 1
if untl > now then factor = math.max(tonumber(h[2]) or 1, 0.01) end
local tat = math.max(tonumber(h[1]) or now, now)
local early = tat - now - tonumber(ARGV[2])
if early > 0 then return math.ceil(early) end
tat = tat + tonumber(ARGV[1]) / factor
redis.call('HSET', KEYS[1], 'tat', fmt(tat))
expire(math.max(tat, untl))
return 0
"""
)

# ARGV: factor, ttl (us), hold (us), now. Returns 1 when the factor went down, else 0.
_OBSERVE = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'tat', 'factor', 'until', 'hold')
local untl = tonumber(h[3]) or 0
local current = 1
if untl > now then current = tonumber(h[2]) or 1 end
local factor = tonumber(ARGV[1])
if factor <= current then
  untl = now + tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'factor', ARGV[1], 'until', fmt(untl))
end
local hold = tonumber(h[4]) or 0
if tonumber(ARGV[3]) > 0 and now + tonumber(ARGV[3]) > hold then
  hold = now + tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], 'hold', fmt(hold))
end
expire(math.max(tonumber(h[1]) or 0, untl, hold))
if factor < current then return 1 end
return 0
"""
)


@dataclass(frozen=True)
class Adaptation:
    """Lower the shared rate to ``factor`` x configured for ``ttl`` s; pause all for ``hold`` s."""

    factor: float
    ttl: float
    hold: float
    reason: str


def adaptation(
    info: ResponseInfo,
    *,
    low_water: float = 0.1,
    low_factor: float = 0.5,
    throttled_factor: float = 0.25,
    default_window: float = 60.0,
    own_rate: float | None = None,
) -> Adaptation | None:
    """What one Composio answer says about the organisation's budget; None: nothing to change."""
    window = info.rate_window if info.rate_window and info.rate_window > 0 else default_window
    if info.status == 429 or info.slug == "HTTP_TooManyRequests":
        hold = min(max(info.retry_after or 0.0, 0.0), window)
        return Adaptation(throttled_factor, window, hold, "429")
    limit, remaining = info.rate_limit, info.rate_remaining
    if not (limit and limit > 0 and remaining is not None and remaining < low_water * limit):
        return None
    # Our own steady use leaves at least limit - own budget per window: when that is more than
    # the low-water mark, a low Remaining means other clients share the budget -> slow down.
    # Configured close to the limit, a low Remaining is our own doing: 429s remain the signal.
    if own_rate is not None and own_rate * window > (1 - low_water) * limit:
        return None
    return Adaptation(low_factor, window, 0.0, f"remaining {remaining}/{limit}")


class RateLimiter:
    """A GCRA limiter in Redis, shared by every process using the same ``key``; thread-safe.

    ``clock`` (seconds) replaces the Redis server's clock: for tests only, and then every user
    of the key must pass the same clock.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        rate: float,
        period: float,
        burst: int,
        key: str = Keys.ratelimit,
        clock: Callable[[], float] | None = None,
        low_water: float = 0.1,
        low_factor: float = 0.5,
        throttled_factor: float = 0.25,
    ) -> None:
        if rate <= 0 or period <= 0 or burst < 1:
            raise ValueError("rate and period must be positive and burst at least 1")
        if not (0 < low_factor <= 1 and 0 < throttled_factor <= 1 and 0 <= low_water < 1):
            raise ValueError("factors must be in (0, 1] and low_water in [0, 1)")
        self.key = key
        self._client = client
        if burst > rate:
            raise ValueError("burst must not exceed the rate per period")
        # The burst counts inside the budget: at most ``rate`` grants in any ``period``.
        self._interval = period / (rate - burst + 1) * _US
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._tuning = {
            "low_water": low_water,
            "low_factor": low_factor,
            "throttled_factor": throttled_factor,
            "own_rate": rate / period,
        }
        self._acquire = client.register_script(_ACQUIRE)
        self._observe = client.register_script(_OBSERVE)
        self._warned_at = -_WARN_EVERY

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        rate: float,
        period: float,
        burst: int,
        sentinel_master: str | None = None,
        sentinel_password: Secret | None = None,
    ) -> RateLimiter:
        """A limiter with its own Redis client: 1 s timeouts, one immediate retry, so that a
        Redis outage costs each request at most a couple of seconds before failing open."""
        sockets = {**redis_conn.LIMITER_SOCKETS, "retry": Retry(NoBackoff(), 1)}
        spec = redis_conn.RedisSpec(url, sentinel_master, sentinel_password)
        client = redis_conn.client(spec, sockets=sockets)
        return cls(client, rate=rate, period=period, burst=burst)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter | None:
        """The limiter ``ROTATOR_RATE_LIMIT`` asks for; None when the limit is off."""
        if settings.rate_limit is None:
            return None
        rate, period = settings.rate_limit
        return cls.from_url(
            settings.redis_url,
            rate=rate,
            period=period,
            burst=settings.rate_limit_burst,
            sentinel_master=settings.redis_sentinel_master,
            sentinel_password=settings.redis_sentinel_password,
        )

    def acquire(self) -> float:
        """Take one request's slot: 0.0 = go now, else seconds to wait before asking again."""
        try:
            args = (self._interval, self._tolerance, self._now())
            wait = self._acquire(keys=[self.key], args=args)
        except redis.RedisError as exc:
            self._fail_open("acquire", exc)
            return 0.0
        return int(wait) / _US

    def observe(self, info: ResponseInfo) -> None:
        """Adapt the shared rate to what Composio said about the organisation's budget."""
        change = adaptation(info, **self._tuning)
        if change is None:
            return
        args = (change.factor, change.ttl * _US, change.hold * _US, self._now())
        try:
            lowered = self._observe(keys=[self.key], args=args)
        except redis.RedisError as exc:
            self._fail_open("observe", exc)
            return
        if lowered or change.hold:
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

    def _now(self) -> str:
        return "" if self._clock is None else f"{self._clock() * _US:.0f}"

    def _fail_open(self, op: str, exc: redis.RedisError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("ratelimit.unavailable", op=op, error=type(exc).__name__, fail_open=True)
