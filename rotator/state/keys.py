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

    @classmethod
    def overdue(cls, nanoid: str) -> str:
        """Set for a day after a ``credential.overdue`` event: at most one a day."""
        return f"{cls.prefix}:overdue:{nanoid}"

    @classmethod
    def webhook(cls, delivery: str) -> str:
        """One webhook delivery: its body, enqueue time and attempts (no value, ever)."""
        return f"{cls.prefix}:webhook:{delivery}"

    webhook_due = "rotator:webhook:due"  # delivery key -> when it is next due (ZSET)
    audit = "rotator:audit"
    dead_letter = "rotator:dlq"
    paused = "rotator:paused"
    paused_ids = "rotator:paused_ids"
    last_sweep = "rotator:sweep:last"
    ratelimit = "rotator:ratelimit:composio"
    circuit = "rotator:circuit"
    circuit_probe = "rotator:circuit:probe"
