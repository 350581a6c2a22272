"""A channel whose connection was closed under it keeps its unacked messages for the next channel
instead of raising out of the worker (kombu 5.7 clears the transport's client before a closing
channel puts its unacked messages back: after a Redis restart that ended a worker with
"Unrecoverable error: AttributeError: 'NoneType' object has no attribute 'hostname'")."""

from __future__ import annotations

from typing import Any

import pytest
from kombu.connection import Connection
from kombu.transport import redis as kombu_redis

from rotator.worker import broker


def _closed_channel(redis_url: str) -> Any:
    """A fresh channel (no pool yet) whose transport's client is gone, as at that shutdown."""
    conn: Any = Connection(redis_url)  # type: ignore[no-untyped-call]
    channel = conn.channel()
    channel.qos._delivered["tag-1"] = object()
    channel.connection.client = None
    return channel


def test_the_plain_redis_transport_is_rotators(redis_url: str) -> None:
    """``redis://`` (and ``rediss://``) name rotator's transport once the worker side loads."""
    conn: Any = Connection(redis_url)  # type: ignore[no-untyped-call]
    assert isinstance(conn.transport, broker.Transport)


def test_a_closed_connections_unacked_tags_wait_for_the_next_channel(redis_url: str) -> None:
    """restore_unacked on a closed connection raises nothing, and the tags become orphans that
    the next live channel of the process puts back."""
    channel = _closed_channel(redis_url)
    assert isinstance(channel.qos, broker._RestoringQoS)
    channel.qos.restore_unacked()
    assert "tag-1" in broker._ORPHANS
    assert not channel.qos._delivered
    broker._ORPHANS.discard("tag-1")


def test_kombus_own_qos_raises_there(redis_url: str) -> None:
    """The failure the QoS guards against, with kombu's own: an AttributeError out of close."""
    channel = _closed_channel(redis_url)
    with pytest.raises(AttributeError, match="hostname"):
        kombu_redis.QoS.restore_unacked(channel.qos)  # type: ignore[no-untyped-call]
