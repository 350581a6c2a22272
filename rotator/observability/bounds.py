"""How much of one log line untrusted text may take: the limits, and the one function that cuts.

A log line carries text rotator does not choose: a Vault key name or path, an error message, a
library's message, a traceback. ``logs.redact`` bounds every line with these limits, after
scrubbing (a cut never leaves part of a secret that the whole value would have had masked):
every string is cut to ``FIELD_LIMIT`` characters (a traceback, the ``exception`` field, to
``TRACE_LIMIT``), a field name to ``NAME_LIMIT``, every list or mapping to ``ITEMS_LIMIT``
items, nesting to ``DEPTH_LIMIT`` levels; each cut says so (``...[N chars cut]``). A line then
stays far below Loki's default line limit (256 KB) and costs no more to ship than it is worth:
a 1 MB Vault key name is 1,000 characters and a marker on every ``rotation.*`` line, not 1 MB.
"""

from __future__ import annotations

__all__ = ["DEPTH_LIMIT", "FIELD_LIMIT", "ITEMS_LIMIT", "NAME_LIMIT", "TRACE_LIMIT", "cut"]

FIELD_LIMIT = 1000  # characters of one string value
TRACE_LIMIT = 16000  # characters of a traceback (the ``exception`` field)
NAME_LIMIT = 100  # characters of a field name that is not shaped like code
ITEMS_LIMIT = 50  # items of one list or mapping
DEPTH_LIMIT = 4  # lists and mappings inside one another


def cut(text: str, limit: int = FIELD_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with how many were left out."""
    return text if len(text) <= limit else f"{text[:limit]}...[{len(text) - limit} chars cut]"
