"""``rotator plan`` for one auth config: what ``rotate`` would do now, with no writes.

In step by metadata alone (``plan_meta``: the same binding, then the same version): one metadata
read, no value read. Otherwise the secret is read, its payload built and fingerprinted, and
compared with what was applied, exactly as a rotation decides.
"""

from __future__ import annotations

import functools

from rotator.models import AppliedState, Binding, Plan
from rotator.outcomes import register_values
from rotator.plan import decide, extract_payload, fingerprint
from rotator.plan_meta import binding_fingerprint, same_binding, same_version
from rotator.ports import VaultPort

__all__ = ["bound", "preview"]


@functools.lru_cache(maxsize=16384)
def bound(binding: Binding, key: bytes) -> str:
    """``binding_fingerprint``, computed once per binding (a worker records one per rotation)."""
    return binding_fingerprint(binding, key)


def preview(
    vault: VaultPort, key: bytes, binding: Binding, applied: AppliedState | None, *, force: bool
) -> Plan:
    """The plan against ``applied`` (read by the caller) with the fingerprint ``key``."""
    if applied is not None and not force and same_binding(applied, bound(binding, key)):
        current = vault.version_meta(binding.mount, binding.path)
        if same_version(applied, current):
            return Plan("skip", f"in step at version {current.version}", current.version)
    secret = vault.read_secret(binding.mount, binding.path)
    payload = extract_payload(binding, secret)
    register_values(payload)
    fp = fingerprint(payload, key)
    return decide(version=secret.version, fingerprint=fp, applied=applied, force=force)
