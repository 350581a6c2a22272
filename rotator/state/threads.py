"""One Redis connection per thread for the hot path's scripts (part of the Redis seam).

A rotation runs three Lua scripts (``BEGIN``, the rate limiter's acquire, ``RECORD``). Through
a pooled client each call checks a connection out of the pool and back in, and polls the
socket first (redis-py's stale-data check): about a third of the client's CPU per call,
measured. ``ThreadClients`` gives each thread a single-connection client over the same pool:
the same connection settings (timeouts, retries, TLS) and the same errors. A connection error
drops the thread's client (its connection goes back to the pool, disconnected) and the call is
tried once more on a connection from the pool: a held connection would reconnect to the address
it had, and after a Sentinel failover that is the dead primary (redis-py looks the primary up
when a pool hands a connection out, not when a held one reconnects).
Closing the pool's client (``Redis.close``) closes these connections too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import redis

R = TypeVar("R")

__all__ = ["ThreadClients"]


class ThreadClients:
    """``get()``: this thread's single-connection client over ``client``'s pool."""

    def __init__(self, client: redis.Redis, *, again: bool = True) -> None:
        """``again``: after a connection error, try once more on a connection from the pool
        (the rate limiter says no: it fails open at once, within its 1 s timeouts)."""
        self._pool = client.connection_pool
        self._local = threading.local()
        self._again = again

    def get(self) -> redis.Redis:
        """This thread's client, made on first use; a failure to connect raises (RedisError)
        and leaves nothing behind, so the next call tries again."""
        mine: redis.Redis | None = getattr(self._local, "client", None)
        if mine is None:
            mine = redis.Redis(connection_pool=self._pool, single_connection_client=True)
            self._local.client = mine
        return mine

    def call(self, fn: Callable[[redis.Redis], R]) -> R:
        """``fn`` with this thread's client. A connection error drops the client and tries
        once more on a connection from the pool (as a pooled call reconnects a stale connection
        when the pool hands it out: a restarted Redis costs no failed call); a timeout drops
        it and raises at once (no second wait)."""
        try:
            return self._once(fn)
        except redis.ConnectionError:
            if not self._again:
                raise
            return self._once(fn)

    def _once(self, fn: Callable[[redis.Redis], R]) -> R:
        mine = self.get()
        try:
            return fn(mine)
        except (redis.ConnectionError, redis.TimeoutError):
            self._local.client = None
            mine.close()  # gives the (disconnected) connection back to the pool
            raise
