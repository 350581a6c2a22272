"""The pure core: what to push for one auth config, and whether to push it at all.

``extract_payload`` turns one Vault secret version into exactly the PATCH payload (or a
``SecretFormatError`` naming the path and the field); ``fingerprint`` keys an HMAC over it so
Redis never holds anything derivable without the local key; ``decide`` compares with what was
last applied. No I/O here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

from rotator.core.errors import SecretFormatError
from rotator.core.models import (
    AppliedState,
    AuthType,
    Binding,
    Payload,
    Plan,
    Secret,
    SecretVersion,
    Section,
)
from rotator.core.plan_meta import recreated
from rotator.core.states import SweepAction

__all__ = [
    "SweepDecision",
    "decide",
    "extract_payload",
    "fingerprint",
    "needs_version",
    "quarantined",
    "sweep_decision",
]

SECTIONS: tuple[Section, ...] = ("credentials", "shared_credentials")
LIST_FIELDS = frozenset({"scopes", "user_scopes"})
Value = Secret | tuple[str, ...]


def _where(secret: SecretVersion) -> str:
    return f"Vault secret {secret.path} (version {secret.version})"


def _blank(raw: object) -> bool:
    return isinstance(raw, str) and not raw.strip()


def _value(secret: SecretVersion, name: str, raw: object) -> Value:
    """One credential value: a non-empty string, or a non-empty list of them for scopes.

    An empty or whitespace-only value is invalid, never sent: Composio would store it and wipe
    the live credential.
    """
    field = name.rsplit(".", 1)[-1]
    if _blank(raw) or (field in LIST_FIELDS and raw == []):
        raise SecretFormatError(
            f"{_where(secret)}: {name} is empty (an empty value would wipe the live credential)"
        )
    if isinstance(raw, str):
        return Secret(raw)
    if field in LIST_FIELDS and isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        if any(_blank(x) for x in raw):
            raise SecretFormatError(f"{_where(secret)}: {name} has an empty entry")
        return tuple(raw)
    kind = type(raw).__name__ if raw is not None else "null"
    expected = "a string or a list of strings" if field in LIST_FIELDS else "a string"
    raise SecretFormatError(f"{_where(secret)}: {name} must be {expected}, got {kind}")


def _section(secret: SecretVersion, name: str, raw: object) -> dict[str, Value]:
    if not isinstance(raw, Mapping):
        kind = type(raw).__name__ if raw is not None else "null"
        raise SecretFormatError(f"{_where(secret)}: {name} must be an object, got {kind}")
    if not raw:
        raise SecretFormatError(f"{_where(secret)}: {name} is an empty object")
    return {str(k): _value(secret, f"{name}.{k}", v) for k, v in raw.items()}


def _put(
    secret: SecretVersion,
    out: dict[Section, dict[str, Value]],
    sources: dict[str, str],
    where: tuple[Section, str, str],
    value: Value,
) -> None:
    """Place one value; the same field from a nested object and a flat key is an error."""
    section, field, key = where
    target = f"{section}.{field}"
    if target in sources:
        raise SecretFormatError(
            f"{_where(secret)}: {target} is given twice ({sources[target]!r} and {key!r}); "
            "keep one of them"
        )
    sources[target] = key
    out.setdefault(section, {})[field] = value


def _discovered_sections(secret: SecretVersion) -> dict[Section, dict[str, Value]]:
    """The zero-config shape: nested objects and/or flat ``section.field`` keys."""
    out: dict[Section, dict[str, Value]] = {}
    sources: dict[str, str] = {}
    for key, raw in secret.data.items():
        if key == "type":
            continue
        head, dot, field = key.partition(".")
        if head not in SECTIONS:
            raise SecretFormatError(
                f"{_where(secret)}: unexpected key {key!r} (expected credentials, "
                "shared_credentials, type, or credentials.<field> / shared_credentials.<field>)"
            )
        section: Section = "credentials" if head == "credentials" else "shared_credentials"
        if not dot:
            for name, value in _section(secret, key, raw).items():
                _put(secret, out, sources, (section, name, f"{key}.{name}"), value)
        elif not field:
            raise SecretFormatError(f"{_where(secret)}: key {key!r} has no field name")
        else:
            _put(secret, out, sources, (section, field, key), _value(secret, key, raw))
    return out


def _bound_sections(binding: Binding, secret: SecretVersion) -> dict[Section, dict[str, Value]]:
    out: dict[Section, dict[str, Value]] = {}
    for fm in binding.fields:
        target = f"{fm.section}.{fm.composio_field}"
        if fm.vault_key not in secret.data:
            raise SecretFormatError(
                f"{_where(secret)}: key {fm.vault_key!r} (bound to {target} by {binding.source}) "
                "is missing"
            )
        value = _value(secret, fm.composio_field, secret.data[fm.vault_key])
        out.setdefault(fm.section, {})[fm.composio_field] = value
    return out


def _auth_type(binding: Binding, secret: SecretVersion) -> AuthType:
    if binding.type is not None:
        return binding.type
    raw = secret.data.get("type", "custom")
    if raw == "custom":
        return "custom"
    if raw == "default":
        return "default"
    raise SecretFormatError(f"{_where(secret)}: type must be 'custom' or 'default', got {raw!r}")


def extract_payload(binding: Binding, secret: SecretVersion) -> Payload:
    """Build the PATCH payload from one secret version, or say exactly what is wrong."""
    if not secret.data:
        raise SecretFormatError(f"{_where(secret)}: the secret is empty")
    sections = _bound_sections(binding, secret) if binding.fields else _discovered_sections(secret)
    if not sections:
        raise SecretFormatError(
            f"{_where(secret)}: neither credentials nor shared_credentials is present"
        )
    auth_type = _auth_type(binding, secret)
    if auth_type == "default" and "credentials" in sections:
        raise SecretFormatError(
            f"{_where(secret)}: type 'default' (Composio-managed auth) cannot carry credentials; "
            "use shared_credentials or type 'custom'"
        )
    return Payload(
        type=auth_type,
        credentials=sections.get("credentials"),
        shared_credentials=sections.get("shared_credentials"),
    )


def fingerprint(payload: Payload, key: bytes) -> str:
    """HMAC-SHA256 over the canonical JSON body; useless to anyone without the local key."""
    canonical = json.dumps(payload.body(), sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def decide(
    *,
    version: int,
    fingerprint: str,
    applied: AppliedState | None,
    force: bool,
    rollback: bool = False,
    created: str | None = None,
) -> Plan:
    """Push or skip, with the reason. ``version`` is the Vault version about to be pushed,
    ``created`` its creation time: the applied number deleted and written again is a push."""
    if force:
        return Plan("push", "forced", version)
    if applied is None:
        return Plan("push", "never applied (or state lost)", version)
    if applied.version != version:
        verb = "rollback" if rollback else "vault version changed"
        return Plan("push", f"{verb}: {applied.version} -> {version}", version)
    if recreated(applied.vault_created, created):
        return Plan("push", f"vault secret re-created at version {version}", version)
    if not hmac.compare_digest(applied.fingerprint, fingerprint):
        return Plan("push", "payload changed (binding or fingerprint key changed)", version)
    return Plan("skip", f"in step at version {version}", version)


@dataclass(frozen=True)
class SweepDecision:
    """Queue (``force``: a periodic re-sync) or one of the skips, with a reason for the log."""

    action: SweepAction
    force: bool
    reason: str


def quarantined(
    *,
    failures: int,
    error_version: int | None,
    current_version: int | None,
    quarantine_after: int,
    error_created: str | None = None,
    current_created: str | None = None,
) -> bool:
    """The quarantine rule: ``quarantine_after`` consecutive permanent failures at this same
    Vault version (0 turns it off), the same by its creation time too when both are known.
    Lifted by a new version (one deleted and written again at that number included) or a
    forced rotation's success."""
    return (
        bool(quarantine_after)
        and failures >= quarantine_after
        and error_version == (current_version)
        and not recreated(error_created, current_created)
    )


def needs_version(*, applied_version: int | None, failures: int, paused: bool) -> bool:
    """Whether the sweep must read an auth config's Vault version to decide. Not when it is
    paused (skipped whatever the version), nor when it was never applied and never failed
    (queued whatever the version): a first sync reads each secret once, in its rotation,
    instead of its metadata first. One that failed is read (a version Vault cannot give stays
    a ``sweep.vault_error`` instead of a dead letter at every sweep; quarantine needs it)."""
    if paused:
        return False
    return applied_version is not None or failures > 0


def sweep_decision(
    *,
    current_version: int | None,
    applied_version: int | None,
    applied_at: float | None,
    failures: int,
    error_version: int | None,
    paused: bool,
    now: float,
    resync_interval: float,
    quarantine_after: int,
    current_created: str | None = None,
    applied_created: str | None = None,
    error_created: str | None = None,
) -> SweepDecision:
    """The sweep's cheap decision from metadata alone (``current_version`` None: not read,
    as ``needs_version`` allows).

    Quarantined auth configs (see ``quarantined``) are not queued until the version changes (or
    an operator forces a rotation). The same version number created at another time than the
    one applied (``plan_meta.recreated``) is a new secret: queued (``decide`` pushes it).
    """
    if paused:
        return SweepDecision(SweepAction.PAUSED, False, "paused")
    if current_version is None:  # not read: see ``needs_version``
        return SweepDecision(SweepAction.QUEUE, False, "never applied")
    if quarantined(
        failures=failures,
        error_version=error_version,
        current_version=current_version,
        quarantine_after=quarantine_after,
        error_created=error_created,
        current_created=current_created,
    ):
        return SweepDecision(SweepAction.QUARANTINED, False, "quarantined")
    moved = applied_version != current_version
    if moved or recreated(applied_created, current_created):  # recreated: the same number
        reason = (
            f"vault version {applied_version} -> {current_version}"
            if moved
            else f"vault secret re-created at version {current_version}"
        )
        return SweepDecision(SweepAction.QUEUE, False, reason)
    if resync_interval and (applied_at is None or now - applied_at >= resync_interval):
        return SweepDecision(SweepAction.QUEUE, True, "periodic re-sync")
    return SweepDecision(SweepAction.IN_STEP, False, "in step")
