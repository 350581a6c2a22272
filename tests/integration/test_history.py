"""`rotator history`: the audit trail newest first, with what triggered each rotation, against
a real worker, Redis and Vault; never a value."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
import redis

from rotator.devkit.emulator import Fault
from rotator.reports.history import parse_since
from tests.helpers import Stack
from tests.procs import Procs, assert_cli_ok, run_cli, wait_until

FAILED_LINE = r"rotation\.failed"
VALUES = ("sec-h1", "sec-h2", "sec-h2b", "sec-h3", "sec-h4")


@pytest.mark.parametrize(
    ("raw", "seconds"), [("90s", 90), ("15m", 900), ("24h", 86400), ("2w", 1209600)]
)
def test_since_takes_a_number_and_a_unit(raw: str, seconds: int) -> None:
    assert parse_since(raw) == seconds


@pytest.mark.parametrize("raw", ["", "24", "h", "0h", "1y", "-1h", "1.5h"])
def test_since_rejects_anything_else(raw: str) -> None:
    with pytest.raises(ValueError, match="--since"):
        parse_since(raw)


def _send(env: dict[str, str], task: str, *args: str) -> None:
    """What another service does: ``send_task`` by name, with no trigger kwarg."""
    code = f"from rotator.worker.app import app; app.send_task({task!r}, args={list(args)!r})"
    subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, check=True, timeout=60)


def _audit_count(stack: Stack) -> int:
    with redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"]) as r:
        return int(r.xlen("rotator:audit"))


def test_history_names_every_trigger_newest_first(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """cli (inline and queued), send_task, replay, sweep and resync each land in the audit
    entry; `history` lists them newest first, filters by NANOID, honours --limit, prints no
    value."""
    # Only how soon a forced re-sync is due (the sweep's decision is otherwise unchanged).
    env = {**celery_env, "ROTATOR_RESYNC_INTERVAL": "1"}
    procs.env = {**procs.env, "ROTATOR_RESYNC_INTERVAL": "1"}
    for n in ("h1", "h2", "h3", "h4"):
        stack.put(f"ac_{n}", {"credentials": {"client_secret": f"sec-{n}"}})
    procs.worker("w1")
    assert_cli_ok(run_cli(env, "rotate", "ac_h1", "--inline"))
    assert_cli_ok(run_cli(env, "rotate", "ac_h2", "--wait", "--timeout", "60"))
    _send(env, "rotator.rotate", "ac_h3")
    wait_until("send_task rotation audited", lambda: _audit_count(stack) >= 3, timeout=60)
    stack.emu.inject(Fault(status=400), nanoid="ac_h4", times=1)
    assert_cli_ok(run_cli(env, "rotate", "ac_h4", "--inline"), 1, allowed=[FAILED_LINE])
    assert_cli_ok(run_cli(env, "dlq", "replay", "--inline"))
    stack.write("ac_h2", {"credentials": {"client_secret": "sec-h2b"}})
    time.sleep(1.2)  # past ROTATOR_RESYNC_INTERVAL=1 for ac_h1, ac_h3, ac_h4
    before = _audit_count(stack)
    _send(env, "rotator.sweep")
    wait_until("sweep rotations audited", lambda: _audit_count(stack) >= before + 4, timeout=90)

    res = run_cli(env, "history", "--json")
    assert_cli_ok(res)
    rows = json.loads(res.stdout)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    triggers = [(r["auth_config_id"], r["trigger"], r["outcome"]) for r in reversed(rows)]
    assert triggers[:5] == [
        ("ac_h1", "cli", "succeeded"),
        ("ac_h2", "cli", "succeeded"),
        ("ac_h3", "send_task", "succeeded"),
        ("ac_h4", "cli", "failed"),
        ("ac_h4", "replay", "succeeded"),
    ]
    assert ("ac_h2", "sweep", "succeeded") in triggers[5:]
    assert {("ac_h1", "resync", "succeeded"), ("ac_h3", "resync", "succeeded")} <= set(triggers[5:])
    failed = next(r for r in rows if r["outcome"] == "failed")
    assert failed["http_status"] == "400" and failed["request_id"]

    one = run_cli(env, "history", "ac_h4", "--limit", "1")
    assert_cli_ok(one)
    lines = one.stdout.splitlines()
    assert len(lines) == 2 and "ac_h4" in lines[1] and "resync" in lines[1]  # newest only
    table = run_cli(env, "history", "--since", "1h")
    assert_cli_ok(table)
    assert len(table.stdout.splitlines()) == len(rows) + 1
    assert "resync" in table.stdout and "send_task" in table.stdout
    assert_cli_ok(run_cli(env, "history", "--since", "yesterday"), 2)
    printed = res.stdout + one.stdout + table.stdout
    assert not [v for v in VALUES if v in printed]
    procs.assert_clean(allowed=[FAILED_LINE])


@pytest.mark.parametrize(
    ("entry_id", "fields", "line"),
    [
        (
            "18446744073709551615-0",
            {"auth_config_id": "ac_hx1", "outcome": "succeeded"},
            r"rotator: audit entry 18446744073709551615-0 in rotator:audit has a time out of "
            r"range \(after 9999-12-31\): rotator did not write it: delete it: XDEL "
            r"rotator:audit 18446744073709551615-0",
        ),
    ],
    ids=["id-out-of-range"],
)
def test_an_audit_entry_rotator_cannot_have_written_is_a_named_problem_and_exit_2(
    stack: Stack, entry_id: str, fields: dict[object, object], line: str
) -> None:
    """An audit entry written by hand into Redis with a stream id past year 9999, next to a good
    one: `history` (and `history --json`) exit 2 with one line naming it, not "unexpected
    ValueError" with exit 1."""
    with redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"]) as r:
        r.xadd("rotator:audit", {"auth_config_id": "ac_hx0", "outcome": "succeeded"}, id="1-0")
        r.xadd("rotator:audit", fields, id=entry_id)
    for args in (("history",), ("history", "--json")):
        res = run_cli(stack.env, *args)
        assert_cli_ok(res, 2)
        said = [x for x in res.stderr.splitlines() if not x.startswith("{")]
        assert len(said) == 1 and re.fullmatch(line, said[0]), res.stderr
        assert res.stdout == ""


@pytest.mark.parametrize(
    "fields",
    [{"auth_config_id": b"ac_\xff", "outcome": "succeeded"}, {b"\xfe": "x", "outcome": "failed"}],
    ids=["value-not-utf8", "field-name-not-utf8"],
)
def test_an_audit_entry_that_is_not_utf8_is_left_out_named_and_the_others_shown(
    stack: Stack, fields: dict[object, object]
) -> None:
    """An audit entry holding bytes that are not UTF-8 (written by hand into Redis) is one bad
    record: `history` shows every other entry, exit 0, and one `state.unreadable` line names the
    entry by its id (never its bytes)."""
    with redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"]) as r:
        r.xadd("rotator:audit", {"auth_config_id": "ac_hx0", "outcome": "succeeded"}, id="1-0")
        bad = r.xadd("rotator:audit", fields).decode()
    for args in (("history",), ("history", "--json")):
        res = run_cli(stack.env, *args)
        assert_cli_ok(res, 0)
        assert "ac_hx0" in res.stdout and "\\xff" not in res.stdout + res.stderr
        [unreadable] = [json.loads(x) for x in res.stderr.splitlines() if "state.unreadable" in x]
        assert (unreadable["key"], unreadable["entry_id"]) == ("rotator:audit", bad)
        assert unreadable["problem"] == "not UTF-8 text"
