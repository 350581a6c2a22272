"""Pure: a KV v2 ``created_time`` as one canonical text, or None when it is not RFC 3339.

The applied state records the pushed version's creation time from the data endpoint; the sweep,
``status`` and ``plan`` compare it with the metadata endpoint's (``plan_meta``). Both come from
Vault, but only this canonical form is compared or stored in Redis, so that a formatting
difference (a proxy, another server) cannot make every auth config look re-created, and a
Vault answer cannot put arbitrary text in Redis.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["canonical_time"]

_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def canonical_time(raw: object) -> str | None:
    """``raw`` in UTC with nine fractional digits (``2026-12-02T03:00:00.120000000Z``)."""
    if not isinstance(raw, str) or not (m := _RFC3339.fullmatch(raw)):
        return None
    head, fraction, zone = m.groups()
    try:
        at = dt.datetime.fromisoformat(head + ("+00:00" if zone == "Z" else zone))
    except ValueError:  # a month 13, a second 61
        return None
    return f"{at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S}.{(fraction or '').ljust(9, '0')}Z"
