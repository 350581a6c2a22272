"""The shared rate limiter: the pure policy, its Lua scripts, and the Redis-backed limiter.
May import: core, settings, observability, state.
"""
