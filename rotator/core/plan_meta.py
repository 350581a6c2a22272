"""Pure: whether an auth config is in step from its Vault metadata alone, no value read.

``rotator plan`` reads a secret's data to fingerprint the payload it would push. When the
applied state names the same binding and the same Vault version, created at the same time, the
payload a read would build is the one pushed: a KV v2 version's data never changes, and a secret
deleted and written again numbers its versions from 1 again, with new creation times. Then a
metadata read is enough, and no secret value moves.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from rotator.core.models import AppliedState, Binding, VersionMeta

__all__ = ["BINDING_RULES", "binding_fingerprint", "recreated", "same_binding", "same_version"]

BINDING_RULES = "1"  # bump when extract_payload would build another payload from the same data


def binding_fingerprint(binding: Binding, key: bytes) -> str:
    """HMAC over what of a binding shapes its payload (the auth config, where the secret is, the
    type and the field map; not where the binding came from), keyed like ``plan.fingerprint``."""
    fields = [[f.section, f.composio_field, f.vault_key] for f in binding.fields]
    shape = [BINDING_RULES, binding.auth_config_id, binding.mount, binding.path, binding.type]
    canonical = json.dumps([*shape, fields])
    return hmac.new(key, b"binding:" + canonical.encode(), hashlib.sha256).hexdigest()


def same_binding(applied: AppliedState, binding_fp: str) -> bool:
    """Whether ``applied`` was pushed through the binding of ``binding_fp`` with this key. A
    state recorded without it (by an older rotator) never was."""
    return applied.binding is not None and hmac.compare_digest(applied.binding, binding_fp)


def recreated(applied_created: str | None, current_created: str | None) -> bool:
    """Whether the version applied and the current one, of the same number, are not the same
    version: the secret was deleted and written again. Unknown creation times never say so."""
    return None not in (applied_created, current_created) and applied_created != current_created


def same_version(applied: AppliedState, current: VersionMeta) -> bool:
    """Whether ``current`` is the very version pushed at ``applied``: the same number, created
    at the same time (a state recorded without the creation time never is)."""
    return (
        applied.version == current.version
        and applied.vault_created is not None
        and applied.vault_created == current.created_time
    )
