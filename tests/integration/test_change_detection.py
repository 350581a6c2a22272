"""Change detection by content, end to end: the HMAC fingerprint, not only the Vault version.

The same Vault version with a different payload (a bindings-file remap, a rollback followed by
the current version) must push; identical payloads must skip.
"""

from __future__ import annotations

from pathlib import Path

from rotator.runtime import build_runtime
from rotator.settings.load import load_settings
from tests.helpers import Stack

SECRET: dict[str, object] = {"primary": "PRIMARY-secret-1", "backup": "BACKUP-secret-1"}


def _bindings(tmp_path: Path, stack: Stack, vault_key: str) -> Path:
    path = tmp_path / f"bindings-{vault_key}.toml"
    path.write_text(
        "[[binding]]\n"
        'auth_config = "ac_cd1"\n'
        f'path = "{stack.prefix}-bound/ac_cd1"\n'
        "[binding.credentials]\n"
        f'client_secret = "{vault_key}"\n'
    )
    return path


def test_a_bindings_remap_at_the_same_vault_version_pushes_the_new_field(
    stack: Stack, tmp_path: Path
) -> None:
    """Mapping client_secret to another Vault key, with Vault untouched (still version 1),
    pushes the other value; rotating again with the same mapping skips."""
    stack.emu.add_auth_config("ac_cd1", type="custom")
    stack.rt.vault.write_secret("secret", f"{stack.prefix}-bound/ac_cd1", SECRET)
    for vault_key, expected in (("primary", "PRIMARY-secret-1"), ("backup", "BACKUP-secret-1")):
        env = {**stack.env, "ROTATOR_BINDINGS_FILE": str(_bindings(tmp_path, stack, vault_key))}
        rt = build_runtime(load_settings(env))
        try:
            out = rt.service.rotate("ac_cd1")
            assert out.result == "succeeded" and out.vault_version == 1, out
            assert stack.emu.credentials("ac_cd1") == {"client_secret": expected}
            again = rt.service.rotate("ac_cd1")
            assert again.result == "skipped" and again.vault_version == 1
        finally:
            rt.close()
    assert len(stack.emu.patches("ac_cd1")) == 2


def test_a_rollback_then_the_current_version_pushes_the_current_values_again(
    stack: Stack,
) -> None:
    """rotate(version=1) pushes v1; a plain rotate then pushes v2 again (applied is v1 now);
    a third plain rotate skips."""
    stack.put("ac_cd2", {"credentials": {"client_secret": "ROLL-v1"}})
    stack.write("ac_cd2", {"credentials": {"client_secret": "ROLL-v2"}})
    assert stack.rt.service.rotate("ac_cd2").vault_version == 2
    assert stack.rt.service.rotate("ac_cd2", version=1).result == "succeeded"
    assert stack.emu.credentials("ac_cd2")["client_secret"] == "ROLL-v1"
    out = stack.rt.service.rotate("ac_cd2")
    assert out.result == "succeeded" and out.vault_version == 2
    assert stack.emu.credentials("ac_cd2")["client_secret"] == "ROLL-v2"
    assert stack.rt.service.rotate("ac_cd2").result == "skipped"
    assert len(stack.emu.patches("ac_cd2")) == 3


def test_a_changed_fingerprint_key_pushes_identical_values_once(stack: Stack) -> None:
    """A new ROTATOR_FINGERPRINT_KEY makes every stored fingerprint differ: one re-push each,
    then skips again (identical payload, identical key)."""
    stack.put("ac_cd3", {"credentials": {"client_secret": "FP-secret-1"}})
    assert stack.rt.service.rotate("ac_cd3").result == "succeeded"
    assert stack.rt.service.rotate("ac_cd3").result == "skipped"
    env = {**stack.env, "ROTATOR_FINGERPRINT_KEY": "f" * 64}
    rt = build_runtime(load_settings(env))
    try:
        out = rt.service.rotate("ac_cd3")
        assert out.result == "succeeded" and "payload changed" in out.reason
        assert rt.service.rotate("ac_cd3").result == "skipped"
    finally:
        rt.close()
