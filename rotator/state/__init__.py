"""rotator's state in Redis (redis-py): keys, codec, Lua scripts, the store, the rotation lock,
the breaker's record, and the Redis connection (URL parsing, Sentinel, threads). May import:
core, settings, observability, reports. Never vault or composio.
"""
