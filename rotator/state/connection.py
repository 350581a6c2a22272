"""The one way rotator reaches Redis: a plain, TLS, unix-socket or Sentinel URL, read once.

``ROTATOR_REDIS_URL`` follows Celery's conventions: ``redis://``, ``rediss://``,
``unix:///path?db=N``, or a Sentinel group ``sentinel://h1:26379;sentinel://h2:26379/0`` with
``ROTATOR_REDIS_SENTINEL_MASTER`` naming the master (kombu's ``master_name``) and an optional
``ROTATOR_REDIS_SENTINEL_PASSWORD`` for the sentinels themselves (the data nodes' password, if
any, is the URL's). This module builds the state/lock/rate-limit clients and the Celery broker,
result backend and RedBeat options from that one parse, so every part follows a failover the
same way: a Sentinel-managed connection asks the sentinels for the primary on each reconnect and
turns a demoted primary's ``READONLY`` answer into a reconnect (the broker's Sentinel transport
itself is ``rotator.worker.broker``). Redis Cluster is not supported (kombu has no Cluster
transport).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

import redis
from redis.sentinel import Sentinel

from rotator.core.errors import ConfigError
from rotator.state.url import (
    MASTER_ENV,
    RedisSettings,
    RedisSpec,
    RedisTarget,
    master_address,
    parse_target,
    url_problems,
)

__all__ = [
    "RedisSpec",
    "RedisTarget",
    "celery_redis_config",
    "client",
    "current_primary",
    "parse_target",
    "url_problems",
    "verify_master",
]

# The connection settings every rotator client uses: a dead socket is noticed within seconds
# (timeouts, keepalive, a health check before reusing an idle connection), and a timeout is
# retried once on a fresh connection, which is what finds a new primary after a failover.
SOCKETS: dict[str, Any] = {
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    "retry_on_timeout": True,
    "health_check_interval": 30,
}
# The rate limiter fails open instead: 1 s timeouts, so an outage costs a request little.
LIMITER_SOCKETS: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}


def _credentials(t: RedisTarget) -> dict[str, str]:
    """The data nodes' username and password, from the (first) URL's userinfo."""
    first = urlparse(t.url.split(";")[0].strip())
    out = {}
    if first.username:
        out["username"] = unquote(first.username)
    if first.password:
        out["password"] = unquote(first.password)
    return out


def _sentinel_kwargs(t: RedisTarget, sockets: dict[str, Any]) -> dict[str, Any]:
    """Connection settings for the sentinels themselves: the same timeouts, their password."""
    names = ("socket_timeout", "socket_connect_timeout")
    kwargs: dict[str, Any] = {k: sockets[k] for k in names if k in sockets}
    if t.sentinel_password is not None:
        kwargs["password"] = t.sentinel_password.reveal()
    return kwargs


def _sentinel(t: RedisTarget, sockets: dict[str, Any]) -> Sentinel:
    return Sentinel(
        list(t.sentinels), sentinel_kwargs=_sentinel_kwargs(t, sockets), **sockets, db=t.db
    )


def client(
    s: RedisSettings, *, decode_responses: bool = False, sockets: dict[str, Any] | None = None
) -> redis.Redis:
    """A client of the current primary. For a Sentinel group, the primary is looked up now:
    ``ConfigError`` when sentinels answer but none knows the master (an unreachable group is
    an outage, not a configuration error: the client then finds the primary on first use)."""
    t = parse_target(s)
    opts = dict(SOCKETS if sockets is None else sockets)
    if not t.is_sentinel:
        return redis.Redis.from_url(t.url, decode_responses=decode_responses, **opts)
    group = _sentinel(t, opts)
    _known_master(group, t)
    assert t.master is not None  # parse_target guarantees it
    creds: dict[str, Any] = dict(_credentials(t))  # only the parts the URL gives
    master: redis.Redis = group.master_for(t.master, decode_responses=decode_responses, **creds)
    return master


def _known_master(group: Sentinel, t: RedisTarget) -> tuple[str, int] | None:
    """The primary's address; None when no sentinel answered; ``ConfigError`` when the
    sentinels that answered know no master of that name, or name it at no valid address."""
    answered, garbled = 0, []
    for (host, port), node in zip(t.sentinels, group.sentinels, strict=True):
        try:  # the Sentinel client protocol's own question: it names a promoted replica at once
            found = master_address(node.sentinel_get_master_addr_by_name(t.master or ""))
        except redis.RedisError:
            continue
        except ValueError:  # a port that is not a number (redis-py's parse, or ours)
            garbled.append(f"{host}:{port}")
            continue
        answered += 1
        if found is not None:
            return found
    if garbled:
        raise ConfigError(
            f"{MASTER_ENV}={t.master!r}: the sentinel(s) {', '.join(garbled)} name the master "
            "at an address that is not host:port with a port from 1 to 65535"
        )
    if answered:
        raise ConfigError(
            f"{MASTER_ENV}={t.master!r}: none of the {answered} sentinels that answered "
            f"({_addrs(t)}) knows a master of that name"
        )
    return None


def _addrs(t: RedisTarget) -> str:
    return ", ".join(f"{h}:{p}" for h, p in t.sentinels)


def verify_master(s: RedisSettings) -> None:
    """For a Sentinel URL, ask the sentinels now: ``ConfigError`` when those that answer know
    no such master (none answering is an outage: the caller's reconnect loop handles it)."""
    t = parse_target(s)
    if t.is_sentinel:
        group = _sentinel(t, SOCKETS)
        try:
            _known_master(group, t)
        finally:
            for node in group.sentinels:
                node.close()


def current_primary(s: RedisSettings) -> str:
    """Where writes go now: ``host:port`` (for a Sentinel group, as the sentinels report it,
    with the master's name). ``ConfigError`` for a master no sentinel knows; a
    ``redis.ConnectionError`` when no sentinel answers."""
    t = parse_target(s)
    if not t.is_sentinel:
        parsed = urlparse(t.url)
        if t.scheme == "unix":
            return f"unix:{parsed.path}"
        return f"{parsed.hostname}:{parsed.port or 6379}"
    group = _sentinel(t, SOCKETS)
    try:
        found = _known_master(group, t)
    finally:
        for node in group.sentinels:
            node.close()
    if found is None:
        raise redis.ConnectionError(f"no sentinel answered ({_addrs(t)})")
    return f"{found[0]}:{found[1]} (sentinel master {t.master})"


def _kombu_url(t: RedisTarget, scheme: str) -> str:
    """The target as kombu/Celery read it: every sentinel address carries the userinfo and the
    database (kombu reads them from the first address, Celery's backend from the first too)."""
    if t.scheme == "unix":
        parsed = urlparse(t.url)
        return f"{scheme}://{parsed.path}?{'virtual_host' if scheme != 'socket' else 'db'}={t.db}"
    if not t.is_sentinel:
        return t.url
    first = urlparse(t.url.split(";")[0].strip())
    userinfo = first.netloc.rpartition("@")[0]
    auth = f"{userinfo}@" if userinfo else ""
    return ";".join(f"sentinel://{auth}{h}:{p}/{t.db}" for h, p in t.sentinels)


def celery_redis_config(s: RedisSettings, transport: dict[str, Any]) -> dict[str, Any]:
    """Broker, result backend and RedBeat settings for the URL, ``transport`` being the broker
    transport options rotator uses everywhere (timeouts, keepalive, visibility timeout)."""
    t = parse_target(s)
    if not t.is_sentinel:
        return {
            "broker_url": _kombu_url(t, "redis+socket"),
            "result_backend": _kombu_url(t, "socket"),
            "broker_transport_options": transport,
            "result_backend_transport_options": transport,
            "redbeat_redis_url": t.url,
        }
    group = {"master_name": t.master, "sentinel_kwargs": _sentinel_kwargs(t, SOCKETS)}
    url = _kombu_url(t, "sentinel")
    return {
        "broker_url": url,
        "result_backend": url,
        "broker_transport_options": {**transport, **group},
        "result_backend_transport_options": {**transport, **group},
        "redbeat_redis_url": "redis-sentinel://" + _addrs(t).replace(", ", ","),
        "redbeat_redis_options": {
            "sentinels": [list(a) for a in t.sentinels],
            "service_name": t.master,
            "db": t.db,
            "socket_timeout": SOCKETS["socket_timeout"],
            "sentinel_kwargs": _sentinel_kwargs(t, SOCKETS),
            "retry_period": -1,  # RedBeat retries a lost connection (backing off) for ever
            **_credentials(t),
        },
    }
