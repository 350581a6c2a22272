"""A nanoid found at two Vault paths is pushed from none of them (fail closed), everywhere.

The attack: anyone who may write anywhere under the discovery prefix (one team's sub-folder)
writes ``<prefix>/0evil/ac_base1``, whose sorted path comes before the real one. Before the fix
the first path in sorted order was pushed, replacing the other team's live credentials.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from rotator.worker.sweep import sweep
from tests.helpers import Stack
from tests.procs import run_cli

REAL: dict[str, object] = {
    "credentials.client_id": "base-id",
    "credentials.client_secret": "REAL-secret-base1",
}
EVIL: dict[str, object] = {
    "credentials": {"client_id": "base-id", "client_secret": "EVIL-secret-base1"}
}


def _seed_duplicate(stack: Stack) -> None:
    """The real secret at team/ac_base1 (pushed once), then an attacker's copy at 0evil/."""
    stack.emu.add_auth_config("ac_base1", type="custom")
    stack.write("team/ac_base1", REAL)
    assert stack.rt.service.rotate("ac_base1").result == "succeeded"
    stack.write("0evil/ac_base1", EVIL)
    stack.rt.catalog.view(fresh=True)  # the worker's cache is at most 30 s old in production


def _log_lines(log_stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in log_stream.getvalue().splitlines() if line.strip()]


def test_a_duplicate_nanoid_is_pushed_from_no_path_and_fails_naming_every_path(
    stack: Stack, log_stream: io.StringIO
) -> None:
    """rotate(ac_base1) with a second copy under 0evil/: no PATCH, rotation.failed naming both
    paths, an audit entry, a dead letter and a status state; Composio keeps the real values."""
    _seed_duplicate(stack)
    out = stack.rt.service.rotate("ac_base1", force=True)
    assert out.result == "failed" and out.reason == "AmbiguousSource"
    assert f"{stack.prefix}/0evil/ac_base1" in (out.error or "")
    assert f"{stack.prefix}/team/ac_base1" in (out.error or "")
    assert len(stack.emu.patches("ac_base1")) == 1  # only the first, legitimate push
    assert stack.emu.credentials("ac_base1")["client_secret"] == "REAL-secret-base1"
    failed = [e for e in _log_lines(log_stream) if e.get("event") == "rotation.failed"]
    assert len(failed) == 1 and failed[0]["reason"] == "AmbiguousSource"
    assert "0evil/ac_base1" in str(failed[0]["error"]) and "BINDINGS_FILE" in str(
        failed[0]["suggested_fix"]
    )
    audit = [e for _, e in stack.rt.state.audit_events() if e.get("outcome") == "failed"]
    assert [e["reason"] for e in audit] == ["AmbiguousSource"]
    assert [e["reason"] for _, e in stack.rt.state.dead_letters()] == ["AmbiguousSource"]
    rows = {r.auth_config_id: r for r in stack.rt.status_rows()}
    assert rows["ac_base1"].state == "ambiguous"
    assert "0evil/ac_base1" in rows["ac_base1"].vault_path


def test_the_sweep_reports_a_duplicate_once_and_never_queues_a_push(stack: Stack) -> None:
    """The sweep queues the ambiguous config once (so a worker records the failure), then not
    again for the same set of paths; a third path makes it report again."""
    _seed_duplicate(stack)
    queued: list[str] = []
    summary = sweep(stack.rt, lambda n, _force: queued.append(n), queue_ttl=60)
    assert queued == ["ac_base1"] and summary.ambiguous == 1 and summary.errors == 0
    assert stack.rt.service.rotate("ac_base1").result == "failed"  # what the worker does
    stack.rt.state.release_queue("ac_base1")
    queued.clear()
    sweep(stack.rt, lambda n, _force: queued.append(n), queue_ttl=60)
    assert queued == []
    stack.write("zzz/ac_base1", EVIL)
    sweep(stack.rt, lambda n, _force: queued.append(n), queue_ttl=60)
    assert queued == ["ac_base1"]
    assert stack.emu.credentials("ac_base1")["client_secret"] == "REAL-secret-base1"


def test_a_bindings_file_entry_pins_the_one_path_and_rotation_resumes(
    stack: Stack, tmp_path: Path
) -> None:
    """With a [[binding]] naming team/ac_base1, the real path is pushed and 0evil/ ignored."""
    _seed_duplicate(stack)
    bindings = tmp_path / "bindings.toml"
    bindings.write_text(
        "[[binding]]\n"
        'auth_config = "ac_base1"\n'
        f'path = "{stack.prefix}/team/ac_base1"\n'
        "[binding.credentials]\n"
        'client_id = "credentials.client_id"\n'
        'client_secret = "credentials.client_secret"\n'
    )
    env = {**stack.env, "ROTATOR_BINDINGS_FILE": str(bindings)}
    stack.write("team/ac_base1", {**REAL, "credentials.client_secret": "REAL-secret-base1-v2"})
    res = run_cli(env, "rotate", "ac_base1", "--inline", "--json")
    assert res.returncode == 0, res.stderr
    [row] = json.loads(res.stdout)
    assert row["result"] == "succeeded" and row["vault_path"].endswith("/team/ac_base1")
    assert stack.emu.credentials("ac_base1")["client_secret"] == "REAL-secret-base1-v2"
    plan = run_cli(env, "plan", "--json")
    assert all(r["action"] != "error" for r in json.loads(plan.stdout)), plan.stdout


def test_cli_rotate_all_and_plan_show_the_duplicate_as_a_failure(stack: Stack) -> None:
    """`rotate --all --inline` fails the ambiguous config (exit 1) and pushes nothing for it;
    `plan` lists it as an error naming both paths; neither prints a value."""
    _seed_duplicate(stack)
    stack.put("ac_other1", {"credentials": {"client_secret": "OTHER-secret-1"}})
    res = run_cli(stack.env, "rotate", "--all", "--inline", "--json")
    assert res.returncode == 1, res.stderr
    rows = {r["auth_config_id"]: r for r in json.loads(res.stdout)}
    assert rows["ac_base1"]["result"] == "failed" and rows["ac_other1"]["result"] == "succeeded"
    plan = run_cli(stack.env, "plan", "--json")
    prow = {r["auth_config_id"]: r for r in json.loads(plan.stdout)}["ac_base1"]
    assert prow["action"] == "error" and "0evil/ac_base1" in prow["reason"]
    for text in (res.stdout + res.stderr, plan.stdout + plan.stderr):
        assert "EVIL-secret-base1" not in text and "REAL-secret-base1" not in text
    assert stack.emu.credentials("ac_base1")["client_secret"] == "REAL-secret-base1"
