"""Local stand-ins for rotator's neighbours: real Redis and OpenBao servers on loopback ports.

Used by the test suite and by ``rotator demo``; nothing here is needed in production.
"""

from __future__ import annotations

from rotator.devkit.sandbox.processes import SandboxError, free_port
from rotator.devkit.sandbox.servers import OpenBaoServer, RedisServer

__all__ = ["OpenBaoServer", "RedisServer", "SandboxError", "free_port"]
