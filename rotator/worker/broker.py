"""The Celery broker's Redis Sentinel transport: kombu's, with a QoS that survives a failover.

Registered under the ``sentinel`` scheme when this module is imported (``rotator.worker.app``
imports it), so every kombu connection of the process, the CLI's included, uses it. The URL and
options themselves come from ``rotator.state.connection.celery_redis_config``.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import QoS as VirtualQoS

__all__ = ["TRANSPORT", "Channel", "SentinelChannel", "SentinelTransport", "Transport"]

# Delivery tags a closing channel could not put back (Redis was down): the next live channel of
# this process puts them back on its first restore sweep (every ``unacked_restore_interval``).
_ORPHANS: set[str] = set()
_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)


def _closed(qos: kombu_redis.QoS) -> bool:
    """The channel's connection was closed under it (kombu 5.7 clears the transport's client
    before a closing channel puts its unacked messages back, which then fails to connect)."""
    return getattr(qos.channel.connection, "client", None) is None


class _RestoringQoS(kombu_redis.QoS):
    """kombu's Redis QoS, except that unacked messages a closing channel cannot put back (Redis
    down, or the connection already closed) are kept and put back by the next channel, instead
    of waiting out the visibility timeout or, when the connection was closed first, raising out
    of the worker's shutdown of that connection (an "unrecoverable error" that ended the
    worker after a Redis restart)."""

    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)  # type: ignore[no-untyped-call]
        except (*_DOWN, AttributeError) as exc:
            if isinstance(exc, AttributeError) and not _closed(self):
                raise
            _ORPHANS.update(self._delivered)
            self._delivered.clear()

    def restore_visible(self, *args: Any, **kwargs: Any) -> Any:
        for tag in list(_ORPHANS):
            self.restore_by_tag(tag)  # type: ignore[no-untyped-call]
            _ORPHANS.discard(tag)
        return super().restore_visible(*args, **kwargs)  # type: ignore[no-untyped-call]


class _QoS(_RestoringQoS):
    """The restoring QoS, and an ack or reject that fails on a dead connection still gives the
    prefetch slot back. kombu keeps the slot of a failed ack for as long as the channel lives;
    once every slot is held so, the BRPOP socket stays paused and is never read, so the dead
    connection is never noticed and the worker idles for ever after a failover. The message
    itself stays in the ``unacked`` hash, where the visibility timeout brings it back."""

    def ack(self, delivery_tag: Any) -> None:
        try:
            super().ack(delivery_tag)  # type: ignore[no-untyped-call]
        except BaseException:
            VirtualQoS.ack(self, delivery_tag)  # type: ignore[no-untyped-call]
            raise

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue=requeue)  # type: ignore[no-untyped-call]
        except BaseException:
            VirtualQoS.ack(self, delivery_tag)  # type: ignore[no-untyped-call]
            raise


class Channel(kombu_redis.Channel):
    QoS = _RestoringQoS


class Transport(kombu_redis.Transport):
    """The plain Redis transport with ``_RestoringQoS`` (``redis://``, ``rediss://``, unix)."""

    Channel = Channel


class SentinelChannel(kombu_redis.SentinelChannel):
    QoS = _QoS


class SentinelTransport(kombu_redis.SentinelTransport):
    """The Sentinel transport with ``_QoS`` (Celery's ``broker_transport`` for a Sentinel URL)."""

    Channel = SentinelChannel


TRANSPORT = f"{__name__}:SentinelTransport"
# kombu re-reads the transport from each URL's scheme when it moves to the next sentinel of the
# list (``Connection.switch``), which drops ``broker_transport``: the scheme itself must name it.
TRANSPORT_ALIASES["sentinel"] = TRANSPORT
TRANSPORT_ALIASES["redis"] = TRANSPORT_ALIASES["rediss"] = f"{__name__}:Transport"
