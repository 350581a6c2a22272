"""The Lua sources of rotator's state scripts (``rotator.state.scripts`` runs them).

Every key is passed in KEYS; nothing here holds a secret value. A script runs alone on the
server, like MULTI/EXEC; unlike it, an error stops the script where it happens (what ran
stays). So a record is read with ``redis.pcall``: a key of another type (WRONGTYPE) comes back
as its own error in the reply, which ``rotator.state.records`` reads as absent for that auth
config, instead of failing the call for every auth config in it.
"""

from __future__ import annotations

__all__ = [
    "BEGIN_LUA",
    "QUEUED_LUA",
    "READ_BRIEFS_LUA",
    "READ_STORED_LUA",
    "RECORD_ERROR_LUA",
    "RECORD_LUA",
]

# KEYS: paused, paused ids, lock, applied, circuit. ARGV: nanoid, token, lock TTL (ms).
# Returns {everything paused, this one paused, lock taken (1/0), applied (flat), circuit}.
# A lock key that never expires is none rotator set (each has a TTL): taken over. The applied
# state and the breaker are read with pcall: a key of another type comes back as its error
# (read as absent), not as the script's.
BEGIN_LUA = """
local everything = redis.call('EXISTS', KEYS[1])
local one = redis.call('SISMEMBER', KEYS[2], ARGV[1])
local took = redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3])
if not took and redis.call('PTTL', KEYS[3]) == -1 then
  redis.call('DEL', KEYS[3])
  took = redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3])
end
local applied = {}
if took then applied = redis.pcall('HGETALL', KEYS[4]) end
return {everything, one, took and 1 or 0, applied, redis.pcall('GET', KEYS[5])}
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


# KEYS: last error, failures, audit. ARGV: '1' for a permanent failure (counted), audit
# MAXLEN, n, then n error field/value pairs, then the audit entry's pairs. Returns the failure
# count: counted (a count that is not a positive number starts again at 1) or as stored (one
# that is not a number, or a key of another type, deleted: nil).
RECORD_ERROR_LUA = """
local n = tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4, 3 + 2 * n))
local count
if ARGV[1] == '1' then
  count = redis.pcall('INCR', KEYS[2])
  if type(count) ~= 'number' or count < 1 then
    redis.call('DEL', KEYS[2])
    count = redis.call('INCR', KEYS[2])
  end
else
  count = redis.pcall('GET', KEYS[2])
  if type(count) == 'table' or (count and not string.match(count, '^[0-9]+$')) then
    redis.call('DEL', KEYS[2])
    count = false
  end
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4 + 2 * n))
return count
"""

# KEYS: applied, last error, failures of each auth config in turn (read only). Returns, per
# auth config, {applied (flat), last error (flat), failures or nil}; a key of another type as
# its error (pcall), so that it stays with its auth config.
READ_STORED_LUA = """
local out = {}
for i = 1, #KEYS, 3 do
  out[#out + 1] = redis.pcall('HGETALL', KEYS[i])
  out[#out + 1] = redis.pcall('HGETALL', KEYS[i + 1])
  out[#out + 1] = redis.pcall('GET', KEYS[i + 2])
end
return out
"""

# The sweep's reads and dedupe keys, ``scripts.STORED_CHUNK`` auth configs per call (redis-py's
# cost per command in a pipeline was most of the sweep's Redis CPU: three commands per config).
# KEYS: applied, last error, failures of each in turn (as READ_STORED). Returns, per auth
# config, {applied version, applied at, its creation time in Vault}, {the last error's Vault
# version, its creation time}, failures (nil: none); a key of another type as its error.
READ_BRIEFS_LUA = """
local out = {}
for i = 1, #KEYS, 3 do
  out[#out + 1] = redis.pcall('HMGET', KEYS[i], 'version', 'applied_at', 'vault_created')
  out[#out + 1] = redis.pcall('HMGET', KEYS[i + 1], 'vault_version', 'vault_created')
  out[#out + 1] = redis.pcall('GET', KEYS[i + 2])
end
return out
"""

# KEYS: dedupe keys. ARGV: 'NX' (claim: returns 1 per key now claimed, 0 if already queued) or
# 'XX' (renew: only keys that still exist), then the TTL in ms. A key that never expires is
# none rotator set (each has a TTL): a claim takes it.
QUEUED_LUA = """
local out = {}
for i = 1, #KEYS do
  local took = redis.call('SET', KEYS[i], '1', ARGV[1], 'PX', ARGV[2])
  if not took and ARGV[1] == 'NX' and redis.call('PTTL', KEYS[i]) == -1 then
    took = redis.call('SET', KEYS[i], '1', 'PX', ARGV[2])
  end
  out[i] = took and 1 or 0
end
return out
"""
