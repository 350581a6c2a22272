"""The `rotator` command as an operator runs it: exit codes, output, no secrets printed."""

from __future__ import annotations

import json

from rotator.devkit.emulator import Fault
from tests.helpers import Stack
from tests.procs import assert_cli_ok, run_cli

# rotation.failed is logged at ERROR: expected where a test makes a rotation fail.
FAILED_LINE = r"rotation\.failed"


def test_broken_configuration_exits_2_listing_every_problem(stack: Stack) -> None:
    """Bad settings: exit 2, one message naming each problem, no traceback."""
    env = {
        **stack.env,
        "VAULT_ADDR": "",
        "ROTATOR_VAULT_AUTH": "ldap",
        "ROTATOR_LOCK_TTL": "x",
    }
    res = run_cli(env, "status")
    assert_cli_ok(res, 2)
    assert "VAULT_ADDR is required" in res.stderr
    assert "ROTATOR_VAULT_AUTH='ldap'" in res.stderr and "ROTATOR_LOCK_TTL='x'" in res.stderr


def test_usage_errors_exit_2(stack: Stack) -> None:
    """--version with --all, or neither ids nor --all, is a usage error."""
    assert_cli_ok(run_cli(stack.env, "rotate", "--all", "--version", "2", "--inline"), 2)
    assert_cli_ok(run_cli(stack.env, "rotate", "--inline"), 2)


def test_inline_rotate_exit_codes_and_output(stack: Stack) -> None:
    """All good -> 0 with a row per config; one failure -> 1; values never printed by either
    run (the first one pushed the values; the second failed on one)."""
    stack.put("ac_c1", {"credentials": {"client_secret": "S3CR3T-cli-1"}})
    stack.put("ac_c2", {"credentials": {"client_secret": "S3CR3T-cli-2"}})
    first = run_cli(stack.env, "rotate", "--all", "--inline")
    assert_cli_ok(first)
    assert "ac_c1" in first.stdout and "ac_c2" in first.stdout and "succeeded" in first.stdout
    assert stack.emu.credentials("ac_c1") == {"client_secret": "S3CR3T-cli-1"}  # it pushed them
    stack.write("ac_c2", {"credentials": {"client_secret": "S3CR3T-cli-3"}})
    stack.emu.inject(Fault(status=422), nanoid="ac_c2")
    second = run_cli(stack.env, "rotate", "ac_c1", "ac_c2", "--inline", "--json")
    assert_cli_ok(second, 1, allowed=[FAILED_LINE])
    rows = {r["auth_config_id"]: r for r in json.loads(second.stdout)}
    assert rows["ac_c1"]["result"] == "skipped" and rows["ac_c2"]["http_status"] == 422
    printed = "\n".join([first.stdout, first.stderr, second.stdout, second.stderr])
    for value in ("S3CR3T-cli-1", "S3CR3T-cli-2", "S3CR3T-cli-3"):
        assert value not in printed


def test_plan_says_what_and_why_without_writing(stack: Stack) -> None:
    """`plan` lists push/skip with reasons and malformed secrets, sending nothing."""
    stack.put("ac_pl1", {"credentials": {"client_secret": "sec-pl1"}})
    stack.put("ac_pl2", {"credentials": {"client_secret": "sec-pl2"}})
    stack.put("ac_pl3", {"credentials": 5})
    stack.rt.service.rotate("ac_pl2")
    res = run_cli(stack.env, "plan", "--json")
    assert_cli_ok(res, 1)  # a malformed secret: exit 1, without a traceback
    rows = {r["auth_config_id"]: r for r in json.loads(res.stdout)}
    assert rows["ac_pl1"]["action"] == "push" and "never applied" in rows["ac_pl1"]["reason"]
    assert rows["ac_pl2"]["action"] == "skip"
    assert rows["ac_pl3"]["action"] == "error" and "must be an object" in rows["ac_pl3"]["reason"]
    assert len(stack.emu.patches()) == 1  # only the rotation above
    assert stack.rt.state.get_applied("ac_pl1") is None


def test_status_shows_versions_states_and_errors(stack: Stack) -> None:
    """`status --json`: synced, pending and failed rows with versions and the last error."""
    stack.put("ac_st1", {"credentials": {"client_secret": "sec-st1"}})
    stack.put("ac_st2", {"credentials": {"client_secret": "sec-st2"}})
    stack.put("ac_st3", {"credentials": {"client_secret": "sec-st3"}})
    stack.rt.service.rotate("ac_st1")
    stack.emu.inject(Fault(status=400, slug="AuthConfig_ValidationError"), nanoid="ac_st3")
    stack.rt.service.rotate("ac_st3")
    res = run_cli(stack.env, "status", "--json")
    assert_cli_ok(res)
    rows = {r["auth_config_id"]: r for r in json.loads(res.stdout)}
    assert rows["ac_st1"]["state"] == "synced" and rows["ac_st1"]["applied_version"] == 1
    assert rows["ac_st2"]["state"] == "pending" and rows["ac_st2"]["vault_version"] == 1
    assert rows["ac_st3"]["state"] == "failed"
    assert rows["ac_st3"]["last_error_status"] == 400
    assert rows["ac_st3"]["last_error_slug"] == "AuthConfig_ValidationError"
    assert rows["ac_st3"]["last_error_request_id"]
    table = run_cli(stack.env, "status")
    assert_cli_ok(table)
    assert "ac_st1" in table.stdout and "synced" in table.stdout


def test_check_reports_each_dependency(stack: Stack) -> None:
    """`check` is ok against the stack and names Composio when its key is wrong."""
    res = run_cli(stack.env, "check")
    assert_cli_ok(res)
    for name in ("vault", "redis", "composio", "bindings"):
        assert f"ok    {name}" in res.stdout
    bad = run_cli({**stack.env, "COMPOSIO_API_KEY": "ck_wrong_key"}, "check")
    assert_cli_ok(bad, 1)
    assert "FAIL  composio" in bad.stdout and "401" in bad.stdout
    assert "ck_wrong_key" not in bad.stdout + bad.stderr


def test_dead_letter_list_and_replay(stack: Stack) -> None:
    """A dead-lettered config is listed, and replaying it (once fixed) succeeds and clears it."""
    stack.put("ac_dl1", {"credentials": {"client_secret": "sec-dl1"}})
    stack.emu.inject(Fault(status=400), nanoid="ac_dl1")
    assert stack.rt.service.rotate("ac_dl1").result == "failed"
    listed = run_cli(stack.env, "dlq", "list", "--json")
    assert_cli_ok(listed)
    [entry] = json.loads(listed.stdout)
    assert entry["auth_config_id"] == "ac_dl1" and entry["http_status"] == "400"
    res = run_cli(stack.env, "dlq", "replay", entry["id"], "--inline")
    assert_cli_ok(res)
    assert stack.emu.credentials("ac_dl1") == {"client_secret": "sec-dl1"}
    assert stack.rt.state.dead_letters() == []


LOOK_ALIKE = "ac_pause\u043e1"  # a Cyrillic U+043E where ac_pauseo1 has a Latin o


def test_pause_refuses_a_look_alike_id_and_the_real_config_stays_unpaused(stack: Stack) -> None:
    """`rotator pause` of a look-alike (Cyrillic) id or one with a zero-width space exits 2 with
    one line and pauses nothing: the real config is not left rotating while the operator
    believes it paused. The real id pauses, and resume takes it back."""
    stack.put("ac_pauseo1", {"credentials": {"client_secret": "sec-p1"}})
    for bad in (LOOK_ALIKE, "ac_pauseo1\u200b"):
        res = run_cli(stack.env, "pause", bad)
        assert_cli_ok(res, 2)
        assert res.stdout == "" and len(res.stderr.splitlines()) == 1, res.stderr
        assert "is not a nanoid" in res.stderr and "\\u" in res.stderr
        assert stack.rt.state.paused() == (False, set())
    assert_cli_ok(run_cli(stack.env, "pause", "ac_pauseo1"))
    assert stack.rt.state.paused() == (False, {"ac_pauseo1"})
    assert stack.rt.service.rotate("ac_pauseo1").reason == "paused"
    assert_cli_ok(run_cli(stack.env, "resume", "ac_pauseo1"))
    assert stack.rt.state.paused() == (False, set())


def test_dead_letter_replay_keeps_an_entry_whose_id_is_not_a_nanoid(stack: Stack) -> None:
    """A dead-letter entry naming a look-alike id (tampered with, or a bad message's) is not
    queued: `dlq replay` names it on one line and keeps it; the good entry is replayed."""
    stack.put("ac_dl2", {"credentials": {"client_secret": "sec-dl2"}})
    bad_id = stack.rt.state.dead_letter({"auth_config_id": LOOK_ALIKE, "reason": "x"})
    stack.rt.state.dead_letter({"auth_config_id": "ac_dl2", "reason": "x"})
    res = run_cli(stack.env, "dlq", "replay", "--inline")
    assert_cli_ok(res)
    assert [line for line in res.stderr.splitlines() if not line.startswith("{")] == [
        f"rotator: kept {bad_id}: auth_config_id 'ac_pause\\u043e1' is not a nanoid (ac_ "
        "followed by 1-64 letters, digits, _ or -)"
    ]
    assert "replayed 1 auth config(s) from 1 entr(y/ies)" in res.stdout
    assert stack.emu.credentials("ac_dl2") == {"client_secret": "sec-dl2"}
    assert [i for i, _ in stack.rt.state.dead_letters()] == [bad_id]
    assert not [e for e in stack.emu.journal if e.nanoid == LOOK_ALIKE]


def test_status_watch_fits_80_columns(stack: Stack) -> None:
    """`status --watch` shows every auth config with state and versions in 80 columns."""
    stack.put("ac_watch_with_a_rather_long_name_01", {"credentials": {"client_secret": "w1"}})
    stack.put("ac_wt2", {"credentials": {"client_secret": "sec-wt2"}})
    stack.emu.inject(Fault(status=400, slug="AuthConfig_ValidationError"), nanoid="ac_wt2")
    stack.rt.service.rotate("ac_watch_with_a_rather_long_name_01")
    stack.rt.service.rotate("ac_wt2")
    res = run_cli(
        {**stack.env, "COLUMNS": "80"},
        "status", "--watch", "--interval", "0.1", "--iterations", "2",
    )  # fmt: skip
    assert_cli_ok(res)
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "2 auth configs" in res.stdout and "1 failed, 1 synced" in res.stdout
    assert "400 AuthConfig_Valida" in res.stdout and "synced" in res.stdout
    assert res.stdout.count("auth config ") >= 2  # two frames
    assert "no sweep has run yet" in res.stdout


def test_health_is_0_when_redis_and_vault_answer_and_1_otherwise(stack: Stack) -> None:
    """`health` checks Redis and Vault only; a dead Redis makes it exit 1 with the reason."""
    res = run_cli(stack.env, "health")
    assert_cli_ok(res)
    assert "healthy" in res.stdout
    dead = {**stack.env, "ROTATOR_REDIS_URL": "redis://127.0.0.1:1/0"}
    res = run_cli(dead, "health")
    assert_cli_ok(res, 1)
    assert "unhealthy: StateUnavailable" in res.stdout
