"""RedBeat's scheduler, made to outlive a Redis failover or restart.

RedBeat extends its beat lock on every tick with a client that does not retry: one dead socket
(the primary SIGKILLed, the sentinels not yet agreed on a new one) raised out of ``tick`` and
stopped beat. Here a connection error costs one tick: it is logged and tried again a second
later, when a Sentinel-managed client asks the sentinels for the primary again. A lock found
lost (expired during a long outage) is acquired again: blocking while another beat holds it,
which is RedBeat's standby behaviour.
"""

from __future__ import annotations

from typing import Any

import redis
import structlog
from redbeat import RedBeatScheduler
from redis.exceptions import LockError

__all__ = ["Scheduler"]

log = structlog.get_logger("rotator.beat")

RETRY_TICK = 1.0


class Scheduler(RedBeatScheduler):  # type: ignore[misc]
    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            return float(super().tick(*args, **kwargs))
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError) as exc:
            log.warning("beat.redis_unavailable", error=type(exc).__name__, retry_s=RETRY_TICK)
            return RETRY_TICK
        except LockError:
            log.warning("beat.lock_lost", action="acquiring it again")
            self.lock.acquire()
            return RETRY_TICK
