"""``rotator check`` as a checklist: pure rules turning what was probed into ok/warn/fail lines,
each warn or fail with its fix. Another check is one more function returning a ``CheckLine``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlparse

from rotator.settings.kinds import is_loopback

__all__ = [
    "POLICY",
    "CheckLine",
    "Level",
    "fingerprint_line",
    "log_notes",
    "redis_lines",
    "render",
    "vault_lines",
]

POLICY = "rotator"  # the least-privilege policy deploy/vault/setup.sh writes


class Level(StrEnum):
    OK = "ok"
    WARN = "WARN"
    FAIL = "FAIL"
    UNKNOWN = "unknown"  # not checked: it needs a server that failed above (no fix of its own)


@dataclass(frozen=True)
class CheckLine:
    name: str
    level: Level
    detail: str
    fix: str | None = None


def _host(url: str) -> str | None:
    return urlparse(url.split(";", maxsplit=1)[0].strip()).hostname


def vault_lines(info: Mapping[str, object], *, allow_plaintext: bool) -> list[CheckLine]:
    """Token privilege and renewal, and the transport, from ``VaultClient.check()``."""
    addr = str(info.get("addr", ""))
    policies = [str(p) for p in info.get("token_policies") or []]  # type: ignore[attr-defined]
    ttl, renewable = info.get("token_ttl"), bool(info.get("token_renewable"))
    lines = [CheckLine("vault", Level.OK, f"{addr} {info.get('version') or ''}".strip())]
    if "root" in policies:
        lines.append(CheckLine("token", Level.WARN, "a root token", _POLICY_FIX))
    elif POLICY not in policies:
        shown = ", ".join(policies) or "none"
        lines.append(CheckLine("token", Level.WARN, f"policies {shown}, not {POLICY}", _POLICY_FIX))
    else:
        lines.append(CheckLine("token", Level.OK, f"policies {', '.join(policies)}"))
    if not renewable and ttl not in (0, None):
        fix = "use a renewable token (AppRole or Kubernetes auth renew theirs)"
        lines.append(CheckLine("renewal", Level.WARN, f"token not renewable, ttl {ttl}s", fix))
    else:
        lines.append(CheckLine("renewal", Level.OK, "no expiry" if not ttl else "renewable"))
    if urlparse(addr).scheme == "http" and not is_loopback(urlparse(addr).hostname):
        fix = "use https:// (ROTATOR_ALLOW_PLAINTEXT_VAULT is set: only on a trusted network)"
        level = Level.WARN if allow_plaintext else Level.FAIL
        lines.append(CheckLine("transport", level, "plain HTTP off loopback", fix))
    return lines


_POLICY_FIX = (
    f"use a token holding only the {POLICY} policy (deploy/vault/setup.sh writes it; "
    "AppRole or Kubernetes auth)"
)


def redis_lines(info: Mapping[str, object]) -> list[CheckLine]:
    """Durability (AOF) and eviction, from INFO persistence and memory."""
    aof = str(info.get("aof_enabled")) == "1"
    policy = str(info.get("maxmemory_policy", "?"))
    lines = [CheckLine("redis", Level.OK, f"redis {info.get('redis_version', '?')}")]
    lines.append(
        CheckLine("aof", Level.OK, "appendonly yes")
        if aof
        else CheckLine(
            "aof",
            Level.WARN,
            "appendonly no: a restart loses queued rotations and the applied state",
            "CONFIG SET appendonly yes (and appendonly yes in redis.conf)",
        )
    )
    lines.append(
        CheckLine("eviction", Level.OK, "maxmemory-policy noeviction")
        if policy == "noeviction"
        else CheckLine(
            "eviction",
            Level.WARN,
            f"maxmemory-policy {policy}: Redis may drop queued tasks and state",
            "CONFIG SET maxmemory-policy noeviction",
        )
    )
    return lines


def fingerprint_line(*, key_in_env: bool, redis_url: str) -> CheckLine:
    """A key file is per host: with a shared (non-loopback) Redis every host must share it."""
    host = _host(redis_url)
    local = redis_url.startswith("unix:") or is_loopback(host)
    if key_in_env or local:
        where = "ROTATOR_FINGERPRINT_KEY" if key_in_env else "a local key file, Redis on loopback"
        return CheckLine("fingerprint", Level.OK, where)
    return CheckLine(
        "fingerprint",
        Level.WARN,
        f"key in a local file while Redis is on {host}: other hosts compute other fingerprints",
        "set the same ROTATOR_FINGERPRINT_KEY on every host",
    )


def log_notes(lines: Sequence[str]) -> list[str]:
    """The JSON log lines written while probing, for people, after the checklist: ``note``,
    the event, its fields as ``key=value`` (already redacted by the log pipeline)."""
    notes = []
    for raw in lines:
        try:
            line = json.loads(raw)
        except ValueError:
            line = {"event": raw.strip()}
        if not isinstance(line, dict) or not line.get("event"):
            continue
        skip = {"event", "timestamp", "level", "logger"}
        fields = " ".join(f"{k}={v}" for k, v in line.items() if k not in skip)
        notes.append(f"note  {line.get('level', 'log')} {line['event']} {fields}".rstrip())
    return notes


def render(lines: Sequence[CheckLine]) -> list[str]:
    """``ok    name        detail``; a warn or fail adds ``-> fix`` unless the detail says it."""
    return [
        f"{ln.level:<5} {ln.name:<11} {ln.detail}"
        + (f"  -> fix: {ln.fix}" if ln.fix and ln.fix not in ln.detail else "")
        for ln in lines
    ]
