"""Redis round trips as Lua scripts: the two of every rotation, the status read and the
sweep's reads and dedupe keys (part of the Redis seam with state.py, which calls them).

``BEGIN``: the pause switches, the lock (``SET NX PX`` with a random token), under it the
applied state, and the fleet breaker. ``RECORD``: the applied state replaced, the last error,
failure count and sweep dedupe key dropped, the lock released if the token still holds it, and
one audit entry. A script runs alone on the server, like MULTI/EXEC; unlike it, an error
stops the script where it happens (what ran stays), so RECORD writes the record and the audit
entry before it touches the lock. One command instead of five or seven costs the worker far
less CPU to pack and parse (measured: about 40% of the client's CPU for the two); both run on
the calling thread's own connection (``rotator.state.threads``). ``READ_STORED`` (what
``status`` shows), ``READ_BRIEFS`` and ``QUEUED`` (the sweep's): 1,024 auth configs per call.
Scripts run with EVALSHA, loaded again by redis-py when a server does not know them (a new
master after a failover). Every key is passed in KEYS; nothing here holds a secret value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.commands.core import Script

from rotator.state.codec import flat
from rotator.state.keys import STREAM_MAXLEN, Keys
from rotator.state.threads import ThreadClients

__all__ = [
    "BEGIN_LUA",
    "QUEUED_LUA",
    "READ_BRIEFS_LUA",
    "READ_STORED_LUA",
    "RECORD_LUA",
    "STORED_CHUNK",
    "Opened",
    "Scripts",
]

# KEYS: paused, paused ids, lock, applied, circuit. ARGV: nanoid, token, lock TTL (ms).
# Returns {everything paused, this one paused, lock taken (1/0), applied (flat), circuit}.
BEGIN_LUA = """
local everything = redis.call('EXISTS', KEYS[1])
local one = redis.call('SISMEMBER', KEYS[2], ARGV[1])
local took = redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3])
local applied = {}
if took then applied = redis.call('HGETALL', KEYS[4]) end
return {everything, one, took and 1 or 0, applied, redis.call('GET', KEYS[5])}
"""

# KEYS: applied, last error, failures, queued, audit, lock. ARGV: token ('': no release),
# audit MAXLEN, n, then n applied field/value pairs, then the audit entry's pairs (both
# non-empty). The record and the audit entry come first: a damaged lock key (another
# type) cannot stop them (pcall), and leaves the lock to its TTL.
RECORD_LUA = """
local n = tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4, 3 + 2 * n))
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4 + 2 * n))
if ARGV[1] ~= '' and redis.pcall('GET', KEYS[6]) == ARGV[1] then redis.call('DEL', KEYS[6]) end
"""


# KEYS: applied, last error, failures of each auth config in turn (read only). Returns, per
# auth config, {applied (flat), last error (flat), failures or nil}.
READ_STORED_LUA = """
local out = {}
for i = 1, #KEYS, 3 do
  out[#out + 1] = redis.call('HGETALL', KEYS[i])
  out[#out + 1] = redis.call('HGETALL', KEYS[i + 1])
  out[#out + 1] = redis.call('GET', KEYS[i + 2])
end
return out
"""
STORED_CHUNK = 1024  # auth configs per READ_STORED call: a few ms of the Redis server each

# The sweep's reads and dedupe keys, STORED_CHUNK auth configs per call (redis-py's cost per
# command in a pipeline was most of the sweep's Redis CPU: three commands per config).
# KEYS: applied, last error, failures of each in turn (as READ_STORED). Returns, per auth
# config, {applied version, applied at, its creation time in Vault}, {the last error's Vault
# version, its creation time}, failures (nil: none).
READ_BRIEFS_LUA = """
local out = {}
for i = 1, #KEYS, 3 do
  out[#out + 1] = redis.call('HMGET', KEYS[i], 'version', 'applied_at', 'vault_created')
  out[#out + 1] = redis.call('HMGET', KEYS[i + 1], 'vault_version', 'vault_created')
  out[#out + 1] = redis.call('GET', KEYS[i + 2])
end
return out
"""

# KEYS: dedupe keys. ARGV: 'NX' (claim: returns 1 per key now claimed, 0 if already queued) or
# 'XX' (renew: only keys that still exist), then the TTL in ms.
QUEUED_LUA = """
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('SET', KEYS[i], '1', ARGV[1], 'PX', ARGV[2]) and 1 or 0
end
return out
"""

Raw = tuple[dict[str, str], dict[str, str], str | None]
Opt = str | None
RawBrief = tuple[Opt, Opt, Opt, Opt, Opt, Opt]  # applied (3), error version and created, failures


@dataclass(frozen=True)
class Opened:
    """What ``BEGIN`` read: paused (either switch), the lock taken, applied (raw), circuit."""

    paused: bool
    took: bool
    applied: dict[str, str]
    circuit: str | None


def _hash(flat_reply: list[Any]) -> dict[str, str]:
    """A hash as a script returns it (field, value, field, value...) as a dict."""
    return {str(k): str(v) for k, v in zip(flat_reply[::2], flat_reply[1::2], strict=True)}


def _pairs(fields: Mapping[str, object]) -> list[Any]:
    return [x for kv in flat(fields).items() for x in kv]


class Scripts:
    """The scripts registered on one client (registering computes the SHA; no round trip)."""

    def __init__(self, client: redis.Redis) -> None:
        self._mine = ThreadClients(client)  # BEGIN and RECORD: each thread on its connection
        self._begin = client.register_script(BEGIN_LUA)
        self._record = client.register_script(RECORD_LUA)
        self._read_stored = client.register_script(READ_STORED_LUA)
        self._read_briefs = client.register_script(READ_BRIEFS_LUA)
        self._queued = client.register_script(QUEUED_LUA)

    def begin(self, nanoid: str, token: str, ttl_ms: int) -> Opened:
        keys = [Keys.paused, Keys.paused_ids, Keys.lock(nanoid), Keys.applied(nanoid)]
        args: list[str | int] = [nanoid, token, ttl_ms]
        everything, one, took, applied, circuit = self._mine.call(
            lambda mine: self._begin(keys=[*keys, Keys.circuit], args=args, client=mine)
        )
        return Opened(bool(everything or one), bool(took), _hash(applied), circuit)

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

    def stored(self, nanoids: list[str]) -> list[Raw]:
        """Applied state, last error and failure count (raw) of each auth config, in order, in
        one round trip per ``STORED_CHUNK``: one command, not three per auth config."""
        res = _each_chunk(self._read_stored, nanoids, _three)
        return [(_hash(res[i]), _hash(res[i + 1]), _opt(res[i + 2])) for i in range(0, len(res), 3)]

    def briefs(self, nanoids: list[str]) -> list[RawBrief]:
        """What the sweep reads of each auth config (raw), in order, one call per chunk."""
        res = _each_chunk(self._read_briefs, nanoids, _three)
        return [
            (*_opt3(res[i]), _opt(res[i + 1][0]), _opt(res[i + 1][1]), _opt(res[i + 2]))
            for i in range(0, len(res), 3)
        ]

    def queued(self, nanoids: list[str], ttl_ms: int, *, renew: bool) -> list[bool]:
        """Claim (``SET NX``) or renew (``SET XX``) each dedupe key: whether it took, in order."""
        args = ["XX" if renew else "NX", ttl_ms]
        return [bool(x) for x in _each_chunk(self._queued, nanoids, _dedupe, args)]


def _three(nanoid: str) -> tuple[str, str, str]:
    return Keys.applied(nanoid), Keys.last_error(nanoid), Keys.failures(nanoid)


def _dedupe(nanoid: str) -> tuple[str]:
    return (Keys.queued(nanoid),)


def _each_chunk(
    script: Script,
    nanoids: list[str],
    keys_of: Callable[[str], tuple[str, ...]],
    args: Sequence[str | int] = (),
) -> list[Any]:
    """``script``'s replies for ``nanoids``, one call per ``STORED_CHUNK`` of them, joined."""
    out: list[Any] = []
    for at in range(0, len(nanoids), STORED_CHUNK):
        keys = [key for nanoid in nanoids[at : at + STORED_CHUNK] for key in keys_of(nanoid)]
        out += script(keys=keys, args=list(args))
    return out


def _opt(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _opt3(values: Any) -> tuple[Opt, Opt, Opt]:
    a, b, c = values
    return _opt(a), _opt(b), _opt(c)
