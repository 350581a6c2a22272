"""The sweep's ``credential.overdue`` events: at most one a day per auth config.

The sweep already holds, for every auth config it read the metadata of (those pushed before and
not paused), the creation time of the version Composio holds (the stored brief) and the secret's
own ``rotator.max_age`` (its KV v2 metadata): deciding costs no extra read. The once-a-day claim
is one Redis round trip per slice (``Outbox.claim_overdue``); each claimed one is logged and,
with ``ROTATOR_WEBHOOK_URL``, queued for the webhook.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from rotator.core.age import OVERDUE_EVENT_EVERY, credential_age, effective_max_age, is_overdue
from rotator.core.models import Binding, Brief, VersionMeta
from rotator.runtime import Runtime
from rotator.state.outbox import Outbox

__all__ = ["announce_overdue", "overdue_now"]

log = structlog.get_logger("rotator.sweep")


def overdue_now(
    bindings: Mapping[str, Binding],
    briefs: Mapping[str, Brief],
    versions: Mapping[str, VersionMeta | str],
    *,
    max_age: float,
    now: float,
) -> dict[str, tuple[float, float, str]]:
    """Pure: the overdue ones among those whose metadata was read: nanoid -> (age, maximum,
    where the maximum comes from)."""
    out: dict[str, tuple[float, float, str]] = {}
    for nanoid, meta in versions.items():
        if not isinstance(meta, VersionMeta) or nanoid not in bindings:
            continue
        policy = effective_max_age(
            setting=max_age, binding=bindings[nanoid].max_age, secret=meta.max_age
        )
        age = credential_age(briefs[nanoid].applied_created, now=now)
        if age is not None and is_overdue(age, policy.seconds):
            out[nanoid] = (age, policy.seconds, policy.source)
    return out


def announce_overdue(
    rt: Runtime,
    bindings: Mapping[str, Binding],
    briefs: Mapping[str, Brief],
    versions: Mapping[str, VersionMeta | str],
    *,
    now: float,
) -> int:
    """Log (and queue for the webhook) each overdue one not announced in the last day."""
    found = overdue_now(bindings, briefs, versions, max_age=rt.settings.max_age, now=now)
    if not found:
        return 0
    fresh = Outbox(rt.state.redis).claim_overdue(list(found), ttl=OVERDUE_EVENT_EVERY)
    for nanoid in fresh:
        age, most, source = found[nanoid]
        b = bindings[nanoid]
        log.warning(
            "credential.overdue",
            auth_config_id=nanoid,
            vault_path=b.vault_path,
            vault_version=briefs[nanoid].applied_version,
            age_seconds=round(age, 1),
            max_age_seconds=most,
            max_age_source=source,
        )
        if rt.announcer is not None:
            rt.announcer.overdue(
                auth_config_id=nanoid,
                vault_path=b.vault_path,
                vault_version=briefs[nanoid].applied_version,
            )
    return len(fresh)
