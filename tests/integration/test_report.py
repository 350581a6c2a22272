"""`rotator report` and the credential age, against real OpenBao, Redis and the emulator: the age
of the live credential counts from its Vault version's creation time, ROTATOR_MAX_AGE, a
binding's and the secret's own `rotator.max_age` set the maximum, and the JSON and CSV shapes
hold every field. Never a value."""

from __future__ import annotations

import csv
import io
import json

import hvac

from rotator.reports.age import csv_fields
from tests.helpers import Stack
from tests.procs import assert_cli_ok, run_cli, wait_until

VALUES = ("sec-r1", "sec-r2", "sec-r3")


def _custom_metadata(stack: Stack, nanoid: str, meta: dict[str, str]) -> None:
    """Set the secret's KV v2 custom_metadata, as its owner would (`bao kv metadata put`)."""
    client = hvac.Client(url=stack.env["VAULT_ADDR"], token=stack.env["VAULT_TOKEN"])
    client.secrets.kv.v2.update_metadata(
        path=f"{stack.prefix}/{nanoid}", mount_point="secret", custom_metadata=meta
    )


def _report(env: dict[str, str], *args: str) -> str:
    res = run_cli(env, "report", *args)
    assert_cli_ok(res)
    for value in VALUES:
        assert value not in res.stdout + res.stderr
    return res.stdout


def _rows(env: dict[str, str], *args: str) -> dict[str, dict[str, object]]:
    return {r["auth_config_id"]: r for r in json.loads(_report(env, "--json", *args))}


def test_report_shows_age_overdue_and_each_source_of_the_maximum(stack: Stack) -> None:
    """With ROTATOR_MAX_AGE=2s, a credential pushed from a version created more than 2 s ago is
    overdue; the secret whose metadata says `rotator.max_age=1d` is not; one never pushed is
    `unknown` (its age cannot be shown). --overdue lists the overdue and unknown ones only."""
    for n, value in zip(("ac_r1", "ac_r2", "ac_r3"), VALUES, strict=True):
        stack.put(n, {"credentials": {"client_secret": value}})
    _custom_metadata(stack, "ac_r2", {"rotator.max_age": "1d"})
    for n in ("ac_r1", "ac_r2"):
        assert stack.rt.service.rotate(n).ok
    env = {**stack.env, "ROTATOR_MAX_AGE": "2s", "ROTATOR_LOG_FORMAT": "json"}

    wait_until("ac_r1 overdue", lambda: _rows(env)["ac_r1"]["overdue"] is True, timeout=20)
    rows = _rows(env)
    r1, r2, r3 = rows["ac_r1"], rows["ac_r2"], rows["ac_r3"]
    assert (r1["max_age_seconds"], r1["max_age_source"], r1["project"]) == (
        2.0,
        "setting",
        "default",
    )
    assert isinstance(r1["age_seconds"], float) and r1["age_seconds"] > 2.0
    assert r1["vault_version"] == 1 and r1["last_success"] and r1["vault_created"]
    assert (r2["overdue"], r2["max_age_seconds"], r2["max_age_source"]) == (
        False,
        86400.0,
        "secret",
    )
    assert (r3["overdue"], r3["age_seconds"], r3["vault_version"]) == (None, None, None)
    assert set(_rows(env, "--overdue")) == {"ac_r1", "ac_r3"}

    table = _report(env)
    print(table)  # the README's example (pytest -s)
    assert "3 auth configs, 1 overdue" in table
    line = next(x for x in table.splitlines() if x.startswith("ac_r1"))
    assert "2s (setting)" in line and " yes " in line


def test_report_csv_has_a_header_and_every_field(stack: Stack) -> None:
    """--csv: the header is every JSON field, one row per auth config, booleans as yes/no/blank;
    with ROTATOR_MAX_AGE unset (off, the default) nothing is overdue."""
    stack.put("ac_c1", {"credentials": {"client_secret": VALUES[0]}})
    assert stack.rt.service.rotate("ac_c1").ok
    env = {**stack.env, "ROTATOR_LOG_FORMAT": "json"}
    rows = list(csv.reader(io.StringIO(_report(env, "--csv"))))
    assert rows[0] == csv_fields()
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["auth_config_id"], row["overdue"], row["max_age_seconds"]) == ("ac_c1", "no", "0.0")
    assert len(rows) == 2
    assert json.loads(_report(env, "--overdue", "--json")) == []


def test_a_bad_secret_max_age_is_named_and_the_setting_applies(stack: Stack) -> None:
    """Untrusted metadata: `rotator.max_age=soon` is ignored (the setting applies) and the report
    says so on the row."""
    stack.put("ac_b1", {"credentials": {"client_secret": VALUES[0]}})
    _custom_metadata(stack, "ac_b1", {"rotator.max_age": "soon"})
    assert stack.rt.service.rotate("ac_b1").ok
    env = {**stack.env, "ROTATOR_MAX_AGE": "90d", "ROTATOR_LOG_FORMAT": "json"}
    [row] = json.loads(_report(env, "--json"))
    assert (row["max_age_source"], row["overdue"]) == ("setting", False)
    assert "rotator.max_age 'soon' is ignored" in str(row["problem"])


def test_status_shows_the_age_of_the_live_credential(stack: Stack) -> None:
    """`status --json` carries credential_age_seconds; the table has an age column."""
    stack.put("ac_s1", {"credentials": {"client_secret": VALUES[0]}})
    assert stack.rt.service.rotate("ac_s1").ok
    env = {**stack.env, "ROTATOR_LOG_FORMAT": "json"}
    res = run_cli(env, "status", "--json")
    assert_cli_ok(res)
    [row] = json.loads(res.stdout)
    assert isinstance(row["credential_age_seconds"], float) and row["credential_age_seconds"] >= 0
    table = run_cli(env, "status")
    assert_cli_ok(table)
    assert "age" in table.stdout
