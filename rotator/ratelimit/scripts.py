"""The rate limiter's Lua scripts (``rotator.ratelimit.limiter``): GCRA on one Redis hash per key.

Both run with EVALSHA on the Redis server's clock (``TIME``) unless the last ARGV injects one
(tests), in microseconds.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "OBSERVE"]

# Shared by both scripts: the time (ARGV's injected clock, else the server's) in microseconds,
# the hash's fields, and its expiry (a day while a learned limit is in it).
HEAD = """
local now = tonumber(ARGV[#ARGV])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local h = redis.call('HMGET', KEYS[1], 'tat', 'factor', 'until', 'hold', 'limit', 'window')
local function fmt(x) return string.format('%.0f', x) end
local function expire(last, learned)
  local ms = math.ceil((math.max(last, now) - now) / 1000) + 1000
  if learned then ms = math.max(ms, 86400000) end
  redis.call('PEXPIRE', KEYS[1], ms)
end
"""

# ARGV: interval (us), tolerance (us), slots wanted, now. Returns {0 (granted) or the wait in
# microseconds, learned limit, learned window ('' when none is learned), slots granted}: as
# many as wanted that the burst tolerance still holds, at least one (a lease: see
# ``rotator.ratelimit.limiter.RateLimiter.acquire``), each spaced as one request.
ACQUIRE = (
    HEAD
    + """
local learned = {h[5] or '', h[6] or ''}
local hold = tonumber(h[4]) or 0
if hold > now then return {math.ceil(hold - now), learned[1], learned[2], 0} end
local untl = tonumber(h[3]) or 0
local factor = 1
if untl > now then factor = math.max(tonumber(h[2]) or 1, 0.01) end
local tat = math.max(tonumber(h[1]) or now, now)
local early = tat - now - tonumber(ARGV[2])
if early > 0 then return {math.ceil(early), learned[1], learned[2], 0} end
local step = tonumber(ARGV[1]) / factor
local n = math.max(1, math.min(tonumber(ARGV[3]), 1 + math.floor(-early / step)))
tat = tat + n * step
redis.call('HSET', KEYS[1], 'tat', fmt(tat))
expire(math.max(tat, untl), h[5])
return {0, learned[1], learned[2], n}
"""
)

# ARGV: factor (0: none), ttl (us), hold (us), limit ('': none), window, now.
# Returns {1 when the factor went down else 0, 1 when the learned limit changed else 0}.
OBSERVE = (
    HEAD
    + """
local changed, lowered = 0, 0
local learned = h[5]
if ARGV[4] ~= '' and (h[5] ~= ARGV[4] or h[6] ~= ARGV[5]) then
  redis.call('HSET', KEYS[1], 'limit', ARGV[4], 'window', ARGV[5])
  changed, learned = 1, ARGV[4]
end
local untl = tonumber(h[3]) or 0
local hold = tonumber(h[4]) or 0
local factor = tonumber(ARGV[1])
if factor > 0 then
  local current = 1
  if untl > now then current = tonumber(h[2]) or 1 end
  if factor <= current then
    untl = now + tonumber(ARGV[2])
    redis.call('HSET', KEYS[1], 'factor', ARGV[1], 'until', fmt(untl))
  end
  if factor < current then lowered = 1 end
  if tonumber(ARGV[3]) > 0 and now + tonumber(ARGV[3]) > hold then
    hold = now + tonumber(ARGV[3])
    redis.call('HSET', KEYS[1], 'hold', fmt(hold))
  end
end
expire(math.max(tonumber(h[1]) or 0, untl, hold), learned)
return {lowered, changed}
"""
)
