"""Redis round trips as Lua scripts (their sources in ``rotator.state.lua``): the two of every
rotation, a failure's record, the status read and the sweep's reads and dedupe keys (part of
the Redis seam with store.py, which calls them).

``BEGIN``: the pause switches, the lock (``SET NX PX`` with a random token), under it the
applied state, and the fleet breaker. ``RECORD``: the applied state replaced, the last error,
failure count and sweep dedupe key dropped, the lock released if the token still holds it, and
one audit entry; ``RECORD_ERROR``: the last error replaced, the failure count, an audit entry.
RECORD writes the record and the audit entry before it touches the lock (a script stops at its
first error). One command instead of five or seven costs the worker far less CPU to pack and
parse (measured: about 40% of the client's CPU for the two); both run on the calling thread's
own connection (``rotator.state.threads``). ``READ_STORED`` (what ``status`` shows),
``READ_BRIEFS`` and ``QUEUED`` (the sweep's): 1,024 auth configs per call. Replies that carry
records come back undecoded (``undecoded``): ``rotator.state.records`` parses each auth
config's on their own. Scripts run with EVALSHA, loaded again when a server does not know them
(a new master after a failover).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.client import NEVER_DECODE
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from rotator.state.codec import Reply, flat
from rotator.state.keys import STREAM_MAXLEN, Keys
from rotator.state.lua import (
    BEGIN_LUA,
    QUEUED_LUA,
    READ_BRIEFS_LUA,
    READ_STORED_LUA,
    RECORD_ERROR_LUA,
    RECORD_LUA,
)
from rotator.state.threads import ThreadClients

__all__ = [
    "BEGIN_LUA",
    "QUEUED_LUA",
    "READ_BRIEFS_LUA",
    "READ_STORED_LUA",
    "RECORD_ERROR_LUA",
    "RECORD_LUA",
    "STORED_CHUNK",
    "Opened",
    "Scripts",
    "raw_command",
    "undecoded",
]

STORED_CHUNK = 1024  # auth configs per READ_STORED call: a few ms of the Redis server each

Raw = tuple[Reply, Reply, Reply]  # applied, last error, failures, undecoded (codec parses)


@dataclass(frozen=True)
class Opened:
    """What ``BEGIN`` read: paused (either switch), the lock taken, applied (raw), circuit."""

    paused: bool
    took: bool
    applied: Reply
    circuit: str | None


def _pairs(fields: Mapping[str, object]) -> list[Any]:
    return [x for kv in flat(fields).items() for x in kv]


def undecoded(script: Script, client: redis.Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """``script``'s reply as bytes, loaded again on a server that does not know it. Records are
    decoded field by field (``codec``): one value that is not UTF-8 fails its own record, not
    the reply of every auth config in the call."""
    argv = [*keys, *args]
    try:
        return raw_command(client, "EVALSHA", script.sha, len(keys), *argv)
    except NoScriptError:
        script.sha = client.script_load(script.script)
        return raw_command(client, "EVALSHA", script.sha, len(keys), *argv)


def raw_command(client: redis.Redis, *args: Any) -> Any:
    """One command whose reply stays bytes (redis-py's ``NEVER_DECODE``)."""
    return client.execute_command(*args, **{NEVER_DECODE: []})  # type: ignore[no-untyped-call]


class Scripts:
    """The scripts registered on one client (registering computes the SHA; no round trip)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._mine = ThreadClients(client)  # BEGIN and RECORD: each thread on its connection
        self._begin = client.register_script(BEGIN_LUA)
        self._record = client.register_script(RECORD_LUA)
        self._record_error = client.register_script(RECORD_ERROR_LUA)
        self._read_stored = client.register_script(READ_STORED_LUA)
        self._read_briefs = client.register_script(READ_BRIEFS_LUA)
        self._queued = client.register_script(QUEUED_LUA)

    def begin(self, nanoid: str, token: str, ttl_ms: int) -> Opened:
        keys = [Keys.paused, Keys.paused_ids, Keys.lock(nanoid), Keys.applied(nanoid)]
        keys.append(Keys.circuit)
        args: list[str | int] = [nanoid, token, ttl_ms]
        everything, one, took, applied, circuit = self._mine.call(
            lambda mine: undecoded(self._begin, mine, keys, args)
        )
        return Opened(bool(everything or one), bool(took), applied, _text(circuit))

    def record(
        self,
        nanoid: str,
        applied: Mapping[str, object],
        audit: Mapping[str, object],
        lock: tuple[str, str] | None,
    ) -> None:
        """Record a success in one round trip; with ``lock`` (key, token), release it if the
        token still holds it."""
        pairs, entry = _pairs(applied), _pairs(audit)
        if not pairs or not entry:
            raise ValueError("a success record needs its applied state and its audit entry")
        lock_key, token = lock if lock is not None else (Keys.lock(nanoid), "")
        keys = [Keys.applied(nanoid), Keys.last_error(nanoid), Keys.failures(nanoid)]
        keys += [Keys.queued(nanoid), Keys.audit, lock_key]
        args = [token, STREAM_MAXLEN, len(pairs) // 2, *pairs, *entry]
        self._mine.call(lambda mine: self._record(keys=keys, args=args, client=mine))

    def record_error(
        self, nanoid: str, error: Mapping[str, object], audit: Mapping[str, object], *, count: bool
    ) -> Reply:
        """Replace the last error and append the audit entry in one round trip; ``count``: one
        more consecutive permanent failure. The failure count (raw) comes back."""
        pairs, entry = _pairs(error), _pairs(audit)
        keys = [Keys.last_error(nanoid), Keys.failures(nanoid), Keys.audit]
        args = ["1" if count else "0", STREAM_MAXLEN, len(pairs) // 2, *pairs, *entry]
        return undecoded(self._record_error, self._client, keys, args)

    def stored(self, nanoids: list[str]) -> list[Raw]:
        """Applied state, last error and failure count (raw) of each auth config, in order, in
        one round trip per ``STORED_CHUNK``: one command, not three per auth config."""
        res = _each_chunk(self._read_stored, self._client, nanoids, _three)
        return [(res[i], res[i + 1], res[i + 2]) for i in range(0, len(res), 3)]

    def briefs(self, nanoids: list[str]) -> list[Raw]:
        """What the sweep reads of each auth config (raw), in order, one call per chunk."""
        res = _each_chunk(self._read_briefs, self._client, nanoids, _three)
        return [(res[i], res[i + 1], res[i + 2]) for i in range(0, len(res), 3)]

    def queued(self, nanoids: list[str], ttl_ms: int, *, renew: bool) -> list[bool]:
        """Claim (``SET NX``) or renew (``SET XX``) each dedupe key: whether it took, in order."""
        args = ["XX" if renew else "NX", ttl_ms]
        return [bool(x) for x in _each_chunk(self._queued, self._client, nanoids, _dedupe, args)]


def _three(nanoid: str) -> tuple[str, str, str]:
    return Keys.applied(nanoid), Keys.last_error(nanoid), Keys.failures(nanoid)


def _dedupe(nanoid: str) -> tuple[str]:
    return (Keys.queued(nanoid),)


def _each_chunk(
    script: Script,
    client: redis.Redis,
    nanoids: list[str],
    keys_of: Callable[[str], tuple[str, ...]],
    args: Sequence[str | int] = (),
) -> list[Any]:
    """``script``'s replies (undecoded) for ``nanoids``, one call per ``STORED_CHUNK`` of them,
    joined."""
    out: list[Any] = []
    for at in range(0, len(nanoids), STORED_CHUNK):
        keys = [key for nanoid in nanoids[at : at + STORED_CHUNK] for key in keys_of(nanoid)]
        out += undecoded(script, client, keys, args)
    return out


def _text(value: Any) -> str | None:
    """A value as text; None when missing, of another type or not UTF-8 (the breaker then
    reads as closed, as for any garbled value: it fails open)."""
    if not isinstance(value, bytes):
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None
