"""``rotator plan`` for one auth config: what ``rotate`` would do now, with no writes.

In step by metadata alone (``plan_meta``: the same binding, then the same version): one metadata
read, no value read. Otherwise the secret is read, its payload built and fingerprinted, and
compared with what was applied, exactly as a rotation decides.
"""

from __future__ import annotations

import functools

from rotator.core.models import AppliedState, Binding, Plan
from rotator.core.plan import decide, extract_payload, fingerprint
from rotator.core.plan_meta import binding_fingerprint, same_binding, same_version
from rotator.rotation.outcomes import register_values
from rotator.rotation.ports import VaultPort

__all__ = ["Previewer"]


class Previewer:
    """Plans with the fingerprint ``key``; thread-safe. ``bound``: a binding's
    ``plan_meta.binding_fingerprint``, computed once per binding (a worker records it with
    every success)."""

    def __init__(self, vault: VaultPort, key: bytes) -> None:
        self._vault, self._key = vault, key
        self.bound = functools.lru_cache(16384)(functools.partial(binding_fingerprint, key=key))

    def plan(self, binding: Binding, applied: AppliedState | None, *, force: bool) -> Plan:
        """The plan against ``applied`` (read by the caller), as ``plan.decide`` rotates."""
        if applied is not None and not force and same_binding(applied, self.bound(binding)):
            current = self._vault.version_meta(binding.mount, binding.path)
            if same_version(applied, current):
                return Plan("skip", f"in step at version {current.version}", current.version)
        secret = self._vault.read_secret(binding.mount, binding.path)
        payload = extract_payload(binding, secret)
        register_values(payload)
        fp = fingerprint(payload, self._key)
        v, created = secret.version, secret.created_time
        return decide(version=v, fingerprint=fp, applied=applied, force=force, created=created)
