"""Pure: how old a live credential is, which maximum age applies to it, and whether it is overdue.

The age of the credential Composio holds is measured from the Vault creation time of the version
rotator last pushed (``AppliedState.vault_created``), not from when rotator pushed it: a version
written in Vault a year ago and pushed today is a year-old credential. The maximum age comes from,
first to last: the binding (``max_age`` in the bindings file: the operator's word), the secret's
own KV v2 ``custom_metadata`` (``rotator.max_age``), ``ROTATOR_MAX_AGE``. ``0`` is off. A secret's
metadata is untrusted text: when it is not a duration it is ignored (the next source applies) and
the row says so.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "METADATA_KEY",
    "OVERDUE_EVENT_EVERY",
    "MaxAge",
    "credential_age",
    "effective_max_age",
    "is_overdue",
    "parse_duration",
    "show_duration",
]

METADATA_KEY = "rotator.max_age"  # the KV v2 custom_metadata key of the per-secret override
OVERDUE_EVENT_EVERY = 86400.0  # a ``credential.overdue`` event at most this often per config
DURATION_RULE = "must be a duration such as 90d, 36h, 30m or 45s, or 0 (off)"
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"([1-9][0-9]{0,8})([dhms])")
_CANONICAL = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z")

Source = Literal["binding", "secret", "setting"]


def parse_duration(text: str) -> float:
    """``90d``, ``36h``, ``30m``, ``45s`` or ``0`` as seconds; ``ValueError`` names the rule."""
    raw = text.strip().lower()
    if raw == "0":
        return 0.0
    m = _DURATION.fullmatch(raw)
    if m is None:
        raise ValueError(DURATION_RULE)
    return float(int(m[1]) * _UNITS[m[2]])


def show_duration(seconds: float | None) -> str:
    """An age or a maximum for people: ``0`` (off), ``45s``, ``12m``, ``5h 3m``, ``91d 2h``."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s <= 0:
        return "0"
    parts = []
    for unit in ("d", "h", "m", "s"):
        n, s = divmod(s, _UNITS[unit])
        if n:
            parts.append(f"{n}{unit}")
    return " ".join(parts[:2])


@dataclass(frozen=True)
class MaxAge:
    """The maximum age that applies to one auth config (0: none) and where it comes from;
    ``problem``: why the secret's own ``rotator.max_age`` was ignored, if it was."""

    seconds: float
    source: Source
    problem: str | None = None


def effective_max_age(*, setting: float, binding: float | None, secret: str | None) -> MaxAge:
    """Binding first, then the secret's ``custom_metadata`` text, then the setting."""
    if binding is not None:
        return MaxAge(binding, "binding")
    if secret is None:
        return MaxAge(setting, "setting")
    try:
        return MaxAge(parse_duration(secret), "secret")
    except ValueError:
        problem = f"the secret's {METADATA_KEY} {secret[:32]!r} is ignored: {DURATION_RULE}"
        return MaxAge(setting, "setting", problem)


def credential_age(created: str | None, *, now: float) -> float | None:
    """Seconds since ``created`` (a canonical Vault creation time), never below 0; None when the
    time is unknown (never pushed, or recorded by an older rotator)."""
    if created is None or (m := _CANONICAL.fullmatch(created)) is None:
        return None
    head, fraction = m.groups()
    try:
        at = dt.datetime.fromisoformat(head + "+00:00").timestamp()
    except ValueError:
        return None
    at += float(f"0.{fraction}") if fraction else 0.0
    return max(0.0, now - at)


def is_overdue(age: float | None, max_age: float) -> bool | None:
    """Overdue when a maximum applies and the age is beyond it; None (unknown) when a maximum
    applies but the age cannot be told: a compliance report never claims what it cannot show."""
    if max_age <= 0:
        return False
    if age is None:
        return None
    return age > max_age
