"""rotator's share of Composio's rate limit, shared by every worker and thread through Redis.

Composio counts requests per organisation in a fixed window (2,000/min on Starter), shared with
every other client of the organisation, and announces the limit on every answer. The decisions
(how much to take, when to slow down) are pure, in ``rotator.ratelimit.policy``; this module does
the Redis part. ``RateLimiter`` keeps rotator within its ``Budget`` with GCRA (the generic cell
rate algorithm): one hash in Redis holds the theoretical arrival time of the next request; a Lua
script (``rotator.ratelimit.scripts``) run with EVALSHA (EVAL when the server does not know the
script) grants a request or says how long to wait, in one round trip, on the Redis server's
clock (``TIME``), so workers' clocks do not matter. A refused call consumes nothing. At a budget
of 200 requests/s or more one call may grant a short lease of a few slots (never more than the
burst), which the process's threads use within 50 ms without asking again.

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

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

from rotator.core.models import ResponseInfo, Secret
from rotator.ratelimit.policy import (
    LEASE_FOR,
    Adaptation,
    Announced,
    Budget,
    adaptation,
    announced,
    budget,
    decode_learned,
    encode_learned,
)
from rotator.ratelimit.scripts import ACQUIRE, OBSERVE
from rotator.settings.load import Settings
from rotator.state import connection as redis_conn
from rotator.state.store import Keys
from rotator.state.threads import ThreadClients

__all__ = ["Adaptation", "RateLimiter", "adaptation"]

log = structlog.get_logger("rotator.ratelimit")

_US = 1_000_000
_WARN_EVERY = 30.0


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
    ``rotator.ratelimit.policy.budget``. ``clock`` (seconds) replaces the Redis server's clock:
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
        monotonic: Callable[[], float] = time.monotonic,
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
        self._acquire = client.register_script(ACQUIRE)
        self._observe = client.register_script(OBSERVE)
        self._warned_at = -_WARN_EVERY
        self._monotonic = monotonic
        self._lease_lock = threading.Lock()
        self._leases: deque[list[float]] = deque()  # [expiry, slots left] per grant, in order
        self._generation = 0  # bumped when the budget changes: a grant asked before is dropped
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
        """Take one request's slot: 0.0 = go now, else seconds to wait before asking again.

        At a budget of ``LEASE_FROM`` requests/s or more one Redis call may grant up to
        ``Budget.lease`` slots (within the burst the GCRA still holds); this process's threads
        use the rest without asking, for ``LEASE_FOR`` s, after which they lapse unused."""
        if self._use_leased():
            return 0.0
        current, generation = self._current, self._generation
        try:
            args = (current.interval, current.tolerance, current.budget.lease, self._now())
            wait, limit, window, granted = self._mine.call(
                lambda mine: self._acquire(keys=[self.key], args=args, client=mine)
            )
        except redis.RedisError as exc:
            self._fail_open("acquire", exc)
            return 0.0
        if (limit, window) != self._raw:  # another process learned a limit (or it expired)
            self._raw = (limit, window)
            self._current = self._know(decode_learned(limit, window))
            if self._current.budget != current.budget:
                self._drop_leases()
        if int(granted) > 1:
            self._lease(int(granted) - 1, generation)
        return int(wait) / _US

    def _use_leased(self) -> bool:
        """Take a slot of the oldest grant still usable; lapsed ones are dropped."""
        with self._lease_lock:
            now = self._monotonic()
            while self._leases and (self._leases[0][0] <= now or not self._leases[0][1]):
                self._leases.popleft()
            if not self._leases:
                return False
            self._leases[0][1] -= 1
            return True

    def _lease(self, slots: int, generation: int) -> None:
        with self._lease_lock:
            if generation == self._generation:  # else granted under a budget since changed
                self._leases.append([self._monotonic() + LEASE_FOR, slots])

    def _drop_leases(self) -> None:
        with self._lease_lock:
            self._leases.clear()
            self._generation += 1

    def observe(self, info: ResponseInfo) -> None:
        """Learn the announced limit and adapt the shared rate to what Composio said."""
        seen = announced(info.rate_limit, info.rate_window)
        learn = seen if seen is not None and seen != self._current.learned else None
        current = self._current if learn is None else self._know(learn)
        change = adaptation(info, own_rate=current.budget.per_second, **self._tuning)
        if learn is None and change is None:
            return
        if change is not None:  # slowing down (or held back): no request on an old lease
            self._drop_leases()
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
        self._drop_leases()  # again: one granted while the script ran is of the old budget
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
