"""Every Redis key name rotator uses, in one place (arq keeps its key names the same way)."""

from __future__ import annotations

__all__ = ["STREAM_MAXLEN", "Keys"]

STREAM_MAXLEN = 100_000


class Keys:
    """Every Redis key rotator uses, in one place."""

    prefix = "rotator"

    @classmethod
    def applied(cls, nanoid: str) -> str:
        return f"{cls.prefix}:applied:{nanoid}"

    @classmethod
    def last_error(cls, nanoid: str) -> str:
        return f"{cls.prefix}:error:{nanoid}"

    @classmethod
    def lock(cls, nanoid: str) -> str:
        return f"{cls.prefix}:lock:{nanoid}"

    @classmethod
    def failures(cls, nanoid: str) -> str:
        return f"{cls.prefix}:failures:{nanoid}"

    @classmethod
    def queued(cls, nanoid: str) -> str:
        return f"{cls.prefix}:queued:{nanoid}"

    audit = "rotator:audit"
    dead_letter = "rotator:dlq"
    paused = "rotator:paused"
    paused_ids = "rotator:paused_ids"
    last_sweep = "rotator:sweep:last"
    ratelimit = "rotator:ratelimit:composio"
    circuit = "rotator:circuit"
    circuit_probe = "rotator:circuit:probe"
