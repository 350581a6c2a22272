"""`rotator plan` on auth configs in step: one metadata read each, no secret value read.

The applied state records the binding's fingerprint and the pushed version's creation time;
when both still match, the payload a read would build is the one pushed (a KV v2 version never
changes), so `plan` needs no data read. Anything else reads the secret as before: a new
version, a secret deleted and written again (its versions start again at 1), a remapped
binding, a state recorded by an older rotator. The sweep and `status` tell a secret written
again at the applied version number by its creation time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest

from rotator.core.trigger import Trigger, triggered_by
from rotator.state.store import Keys
from rotator.vault.timestamps import canonical_time
from rotator.worker.sweep import sweep
from tests.helpers import Stack
from tests.procs import assert_cli_ok, run_cli


@pytest.fixture
def root(stack: Stack) -> Iterator[Any]:
    """An hvac client with the dev server's root token, for set-up only."""
    client = hvac.Client(url=stack.env["VAULT_ADDR"], token=stack.env["VAULT_TOKEN"], timeout=10)
    yield client
    client.adapter.close()


def _metadata_only_env(root: Any, stack: Stack) -> dict[str, str]:
    """The stack's env with a token that may list and read metadata under the prefix, and
    may read no secret's data."""
    name = f"meta-{uuid.uuid4().hex[:8]}"
    hcl = "\n".join(
        f'path "secret/metadata/{stack.prefix}{tail}" {{ capabilities = ["read", "list"] }}'
        for tail in ("", "/*")
    )
    root.sys.create_or_update_policy(name=name, policy=hcl)
    token = root.auth.token.create(policies=[name], ttl="10m")["auth"]["client_token"]
    return {**stack.env, "VAULT_TOKEN": str(token)}


def _plan(env: dict[str, str], code: int = 0) -> dict[str, dict[str, Any]]:
    res = run_cli(env, "plan", "--json")
    assert_cli_ok(res, code)
    return {r["auth_config_id"]: r for r in json.loads(res.stdout)}


def test_plan_of_configs_in_step_needs_no_permission_to_read_their_values(
    stack: Stack, root: Any
) -> None:
    """After a rotation, `plan` with a token that may read metadata only shows every config
    in step; the one given a new version needs its data, so that token cannot plan it."""
    for n in ("ac_pm1", "ac_pm2"):
        stack.put(n, {"credentials": {"client_secret": f"PM-secret-{n}"}})
        assert stack.rt.service.rotate(n).result == "succeeded"
    meta_only = _metadata_only_env(root, stack)
    rows = _plan(meta_only)
    assert {n: (r["action"], r["reason"]) for n, r in rows.items()} == {
        "ac_pm1": ("skip", "in step at version 1"),
        "ac_pm2": ("skip", "in step at version 1"),
    }
    stack.write("ac_pm2", {"credentials": {"client_secret": "PM-secret-new"}})
    rows = _plan(meta_only, 1)
    assert rows["ac_pm1"]["action"] == "skip"
    assert rows["ac_pm2"]["action"] == "error" and "denied" in rows["ac_pm2"]["reason"]
    assert _plan(stack.env)["ac_pm2"]["action"] == "push"


def test_a_secret_deleted_and_written_again_at_the_same_version_number_is_a_push(
    stack: Stack, root: Any
) -> None:
    """Deleting a secret's metadata and writing it again starts its versions at 1 again: the
    same number as the one applied, other values. `plan` says push (the creation time
    differs), and the rotation pushes the new value."""
    stack.put("ac_pm3", {"credentials": {"client_secret": "PM-before-recreate"}})
    assert stack.rt.service.rotate("ac_pm3").result == "succeeded"
    assert _plan(stack.env)["ac_pm3"]["action"] == "skip"
    root.secrets.kv.v2.delete_metadata_and_all_versions(
        path=f"{stack.prefix}/ac_pm3", mount_point="secret"
    )
    assert stack.write("ac_pm3", {"credentials": {"client_secret": "PM-after-recreate"}}) == 1
    row = _plan(stack.env)["ac_pm3"]
    assert (row["action"], row["reason"]) == ("push", "vault secret re-created at version 1")
    assert stack.rt.service.rotate("ac_pm3").result == "succeeded"
    assert stack.emu.credentials("ac_pm3") == {"client_secret": "PM-after-recreate"}


def test_a_binding_remapped_at_the_same_version_is_planned_as_a_push(
    stack: Stack, root: Any, tmp_path: Path
) -> None:
    """A bindings-file entry that maps the field to another Vault key, Vault untouched: the
    binding's fingerprint differs, so `plan` reads the secret and says push."""
    path = f"{stack.prefix}-bound/ac_pm4"
    stack.emu.add_auth_config("ac_pm4", type="custom")
    stack.rt.vault.write_secret("secret", path, {"primary": "PM-primary-1", "backup": "PM-b-1"})

    def bound_to(key: str) -> dict[str, str]:
        f = tmp_path / f"bindings-{key}.toml"
        f.write_text(
            f'[[binding]]\nauth_config = "ac_pm4"\npath = "{path}"\n'
            f'[binding.credentials]\nclient_secret = "{key}"\n'
        )
        return {**stack.env, "ROTATOR_BINDINGS_FILE": str(f)}

    assert_cli_ok(run_cli(bound_to("primary"), "rotate", "ac_pm4", "--inline"))
    assert _plan(bound_to("primary"))["ac_pm4"]["action"] == "skip"
    row = _plan(bound_to("backup"))["ac_pm4"]
    assert row["action"] == "push" and "payload changed" in row["reason"], row


def test_a_state_recorded_without_the_binding_is_planned_from_the_secret_itself(
    stack: Stack, root: Any
) -> None:
    """A state written by an older rotator (no binding fingerprint, no creation time) is
    still in step when the payload's fingerprint matches: `plan` reads the value to know."""
    stack.put("ac_pm5", {"credentials": {"client_secret": "PM-secret-old-state"}})
    assert stack.rt.service.rotate("ac_pm5").result == "succeeded"
    stack.rt.state.redis.hdel(Keys.applied("ac_pm5"), "binding", "vault_created")
    assert _plan(stack.env)["ac_pm5"]["action"] == "skip"
    row = _plan(_metadata_only_env(root, stack), 1)["ac_pm5"]
    assert row["action"] == "error" and "denied" in row["reason"], row


def test_a_secret_written_again_at_the_applied_version_number_is_swept_and_pushed(
    stack: Stack, root: Any
) -> None:
    """The incident case: the leaked secret is deleted (metadata and all) and written anew,
    so its version is 1 again, the number applied. `status` says pending, not synced; the
    sweep queues it; the rotation pushes the new value; then it is in step again."""
    stack.put("ac_pm6", {"credentials": {"client_secret": "PM-leaked-value"}})
    assert stack.rt.service.rotate("ac_pm6").result == "succeeded"
    root.secrets.kv.v2.delete_metadata_and_all_versions(
        path=f"{stack.prefix}/ac_pm6", mount_point="secret"
    )
    assert stack.write("ac_pm6", {"credentials": {"client_secret": "PM-fresh-value"}}) == 1
    status = {r.auth_config_id: r for r in stack.rt.status_rows()}["ac_pm6"]
    assert (status.vault_version, status.applied_version, status.state) == (1, 1, "pending")
    queued: list[tuple[str, bool]] = []
    summary = sweep(stack.rt, lambda i, force: queued.append((i, force)), queue_ttl=60)
    assert queued == [("ac_pm6", False)] and summary.queued == 1
    out = stack.rt.service.rotate_queued("ac_pm6", force=False, version=None, retries=0)
    assert (out.result, out.reason) == ("succeeded", "vault secret re-created at version 1")
    assert stack.emu.credentials("ac_pm6") == {"client_secret": "PM-fresh-value"}
    assert {r.auth_config_id: r for r in stack.rt.status_rows()}["ac_pm6"].state == "synced"
    again: list[tuple[str, bool]] = []
    assert sweep(stack.rt, lambda i, force: again.append((i, force)), queue_ttl=60).queued == 0
    assert again == []


def test_a_secret_written_again_with_the_same_values_is_pushed_once_then_quiet(
    stack: Stack, root: Any
) -> None:
    """Written again at the applied number with identical values: `plan` says push, the sweep
    queues it, the queued rotation pushes it (recording the new creation time), and the next
    sweep queues nothing."""
    data: dict[str, object] = {"credentials": {"client_secret": "PM-same-value"}}
    stack.put("ac_pm7", data)
    assert stack.rt.service.rotate("ac_pm7").result == "succeeded"
    root.secrets.kv.v2.delete_metadata_and_all_versions(
        path=f"{stack.prefix}/ac_pm7", mount_point="secret"
    )
    assert stack.write("ac_pm7", data) == 1
    assert _plan(stack.env)["ac_pm7"]["action"] == "push"
    queued: list[tuple[str, bool]] = []
    sweep(stack.rt, lambda i, force: queued.append((i, force)), queue_ttl=60)
    assert queued == [("ac_pm7", False)]
    out = stack.rt.service.rotate_queued("ac_pm7", force=False, version=None, retries=0)
    assert out.result == "succeeded"
    assert len(stack.emu.patches("ac_pm7")) == 2
    again: list[tuple[str, bool]] = []
    assert sweep(stack.rt, lambda i, force: again.append((i, force)), queue_ttl=60).queued == 0
    assert _plan(stack.env)["ac_pm7"]["action"] == "skip"


def test_both_vault_endpoints_give_one_canonical_creation_time(stack: Stack) -> None:
    """The data read (recorded when pushed) and the metadata read (compared by the sweep,
    `status` and `plan`) agree, in the canonical form only."""
    stack.put("ac_pm8", {"credentials": {"client_secret": "PM-created"}})
    stack.write("ac_pm8", {"credentials": {"client_secret": "PM-created-2"}})
    path = f"{stack.prefix}/ac_pm8"
    read = stack.rt.vault.read_secret("secret", path)
    meta = stack.rt.vault.version_meta("secret", path)
    assert (read.version, meta.version) == (2, 2)
    assert read.created_time == meta.created_time
    assert read.created_time == canonical_time(read.created_time)
    assert read.created_time is not None and read.created_time.endswith("Z")


def test_a_pause_holds_the_sweeps_own_forced_resync_but_not_an_operators_force(
    stack: Stack,
) -> None:
    """A periodic re-sync the sweep queued (forced, trigger ``resync``) before an operator's
    `rotator pause` is a paused skip when it runs; a `rotate --force` (trigger ``cli``) still
    pushes."""
    stack.put("ac_pm9", {"credentials": {"client_secret": "PM-paused"}})
    stack.rt.state.pause("ac_pm9")
    with triggered_by(Trigger.RESYNC):
        out = stack.rt.service.rotate_queued("ac_pm9", force=True, version=None, retries=0)
    assert (out.result, out.reason) == ("skipped", "paused") and stack.emu.patches() == []
    with triggered_by(Trigger.CLI):
        out = stack.rt.service.rotate_queued("ac_pm9", force=True, version=None, retries=0)
    assert out.result == "succeeded"


def test_a_quarantined_version_deleted_and_written_again_at_its_number_is_released(
    stack: Stack, root: Any
) -> None:
    """Version 1 fails for good three times: quarantined. The secret is deleted and written
    again, fixed, at version 1 again: another creation time, so a new secret; the sweep
    queues it and `status` no longer says quarantined."""
    from rotator.devkit.emulator import Fault

    stack.put("ac_pq1", {"credentials": {"client_secret": "PM-broken"}})
    stack.emu.inject(Fault(status=400), nanoid="ac_pq1", times=3)
    for _ in range(3):
        assert stack.rt.service.rotate("ac_pq1").result == "failed"
    queued: list[tuple[str, bool]] = []
    assert sweep(stack.rt, lambda i, f: queued.append((i, f)), queue_ttl=60).quarantined == 1
    root.secrets.kv.v2.delete_metadata_and_all_versions(
        path=f"{stack.prefix}/ac_pq1", mount_point="secret"
    )
    assert stack.write("ac_pq1", {"credentials": {"client_secret": "PM-fixed"}}) == 1
    status = {r.auth_config_id: r for r in stack.rt.status_rows()}["ac_pq1"]
    assert status.state == "failed"  # its last error stands until a rotation, not quarantined
    summary = sweep(stack.rt, lambda i, f: queued.append((i, f)), queue_ttl=60)
    assert queued == [("ac_pq1", False)] and summary.quarantined == 0
