"""The webhook outbox in Redis, and the once-a-day claim of ``credential.overdue`` events.

A delivery is a hash (``Keys.webhook``: body, enqueue time, attempts) and an entry in one sorted
set (``Keys.webhook_due``) scored by when it is next due. Enqueueing is one pipelined round trip
from the rotation, which never waits for the receiver. A worker claims due deliveries with a
script that moves each one's score a lease ahead (another worker skips it meanwhile; a worker
that dies mid-send lets the lease run out, and the delivery is sent again: at least once). A
delivered one is removed; a failed one is due again after its backoff. Nothing here holds a
secret value: the bodies carry IDs, paths, versions and statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from rotator.core.webhook import RETAIN
from rotator.state.keys import Keys
from rotator.state.lock import translated

__all__ = ["Outbox", "Pending"]

# KEYS: due set. ARGV: now, lease end, most. Moves each due entry's score to the lease end.
CLAIM_LUA = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id) end
return ids
"""


@dataclass(frozen=True)
class Pending:
    """One claimed delivery: its key, the exact body, when it was enqueued, attempts so far
    (this one included)."""

    delivery: str
    body: str
    enqueued: float
    attempts: int


class Outbox:
    """The webhook queue and the overdue claims, on the state store's Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._claim = client.register_script(CLAIM_LUA)

    @translated
    def put(self, delivery: str, body: str, *, now: float) -> None:
        """Enqueue one delivery, due now; kept a day past ``RETAIN`` at most."""
        pipe = self.redis.pipeline(transaction=True)
        key = Keys.webhook(delivery)
        pipe.hset(key, mapping={"body": body, "enqueued": repr(now), "attempts": 0})
        pipe.expire(key, int(RETAIN + 86400))
        pipe.zadd(Keys.webhook_due, {delivery: now})
        pipe.execute()

    @translated
    def claim(self, *, now: float, lease: float, most: int) -> list[Pending]:
        """Up to ``most`` due deliveries, each leased for ``lease`` seconds to this caller."""
        ids = cast(list[str], self._claim(keys=[Keys.webhook_due], args=[now, now + lease, most]))
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for delivery in ids:
            pipe.hincrby(Keys.webhook(delivery), "attempts", 1)
            pipe.hmget(Keys.webhook(delivery), ["body", "enqueued"])
        res = pipe.execute()
        out = []
        for i, delivery in enumerate(ids):
            attempts, (body, enqueued) = res[2 * i], res[2 * i + 1]
            if body is None or enqueued is None:  # expired or damaged: nothing to send
                self.done(delivery)
                continue
            out.append(Pending(delivery, body, float(enqueued), int(attempts)))
        return out

    @translated
    def done(self, delivery: str) -> None:
        """Delivered (or given up): gone."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(Keys.webhook_due, delivery)
        pipe.delete(Keys.webhook(delivery))
        pipe.execute()

    @translated
    def later(self, delivery: str, *, at: float) -> None:
        """Due again at ``at`` (XX: a delivery removed meanwhile stays removed)."""
        self.redis.zadd(Keys.webhook_due, {delivery: at}, xx=True)

    @translated
    def pending(self) -> int:
        """Deliveries waiting or in flight (for ``check`` and a metric)."""
        return int(self.redis.zcard(Keys.webhook_due))

    @translated
    def claim_overdue(self, nanoids: list[str], *, ttl: float) -> list[str]:
        """Those of ``nanoids`` with no ``credential.overdue`` event in the last ``ttl`` seconds,
        now marked (``SET NX EX``, one round trip): at most one event a ``ttl`` each."""
        if not nanoids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for nanoid in nanoids:
            pipe.set(Keys.overdue(nanoid), "1", nx=True, ex=max(1, int(ttl)))
        return [n for n, took in zip(nanoids, pipe.execute(), strict=True) if took]
