"""Mass rotations in batches, for real (Redis, OpenBao, emulator, a worker subprocess):
``rotate --all`` carries several auth configs per ``rotator.rotate_batch`` task, and each one
is still its own rotation (one PATCH, one canonical line, one audit entry); an entry that must
try again later is requeued alone; a hostile batch message rejects each bad entry alone.

The workers log at DEBUG so that Celery's per-task "received" lines can be counted (the level
changes no timing setting).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from structlog.testing import capture_logs

from rotator.core.batching import SPREAD, chunks
from rotator.devkit.emulator import Fault
from tests.faults_support import default_env, events, patch_counts, secret_value, seed
from tests.helpers import Stack
from tests.leakcheck import assert_no_leak, dump_all_dbs
from tests.procs import Procs, assert_cli_ok, run_cli, wait_until

FAILED_LINE = r'"event": "rotation\.failed"'


def _debug(env: dict[str, str]) -> dict[str, str]:
    return {**env, "ROTATOR_LOG_FORMAT": "json", "ROTATOR_LOG_LEVEL": "DEBUG"}


def _received(text: str, task: str) -> int:
    """How many ``task`` messages the workers received (Celery's debug "received" lines)."""
    return len(re.findall(rf"Task {re.escape(task)}\[[0-9a-f-]+\] received", text))


def test_a_mass_rotation_is_batched_and_each_config_is_still_its_own_rotation(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """256 configs (about 4 per task, staggered 2 to 6: at least SPREAD tasks): 68 batch tasks,
    a single one only for an entry requeued alone, every config PATCHed exactly once, one
    rotation.succeeded line and one audit entry each."""
    ids = [f"ac_b{n:03d}" for n in range(SPREAD * 4)]
    tasks = len(chunks(ids, most=25))
    assert tasks == 68 and min(len(c) for c in chunks(ids, most=25)) == 2  # all batches
    seed(stack, ids)
    env = _debug(celery_env)
    procs.env.update(env)
    procs.worker("w1", 8)
    res = run_cli(env, "rotate", "--all", "--wait", "--json", timeout=300)
    assert_cli_ok(res)
    rows = json.loads(res.stdout)
    assert sorted(r["auth_config_id"] for r in rows) == ids
    assert {r["result"] for r in rows} == {"succeeded"}
    assert f"queued {len(ids)} rotation(s) in {tasks} tasks" in res.stderr
    assert patch_counts(stack.emu) == dict.fromkeys(ids, 1)
    text = procs.output()
    assert _received(text, "rotator.rotate_batch") == tasks
    # a single task only for an entry requeued alone (rotator's own rate limit can say "later"
    # while the 8 threads start at its conservative rate): one per rotation.retrying line
    assert _received(text, "rotator.rotate") == len(events(text, "rotation.retrying"))
    lines = Counter(e["auth_config_id"] for e in events(text, "rotation.succeeded"))
    assert lines == dict.fromkeys(ids, 1)
    audit = stack.rt.state.audit_events(2000)
    audited = Counter(e["auth_config_id"] for _, e in audit if e["outcome"] == "succeeded")
    assert audited == dict.fromkeys(ids, 1)
    # batch messages, batch results, logs and the CLI carry ids and outcomes, never a value
    sources = {
        "worker logs": text,
        "cli": res.stdout + res.stderr,
        "redis": dump_all_dbs(stack.env["ROTATOR_REDIS_URL"]),
    }
    assert_no_leak(sources, [secret_value(i) for i in ids], dict.fromkeys(sources, ids[0]))
    procs.assert_clean()


def test_an_entry_that_must_try_again_is_requeued_alone_and_its_batch_goes_on(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """One config of a batch meets a 503: it alone comes back as a ``rotator.rotate`` task
    with one retry spent and then succeeds; ``--wait`` follows it to that outcome; every other
    config of its batch succeeds at the first try."""
    ids = [f"ac_r{n:03d}" for n in range(SPREAD * 2)]  # 2 per task
    seed(stack, ids)
    unlucky = ids[7]
    stack.emu.inject(Fault(status=503), nanoid=unlucky, times=1)
    env = _debug(celery_env)
    procs.env.update(env)
    procs.worker("w1", 8)
    res = run_cli(env, "rotate", "--all", "--wait", "--json", timeout=300)
    assert_cli_ok(res)
    rows = {r["auth_config_id"]: r for r in json.loads(res.stdout)}
    assert {r["result"] for r in rows.values()} == {"succeeded"} and len(rows) == len(ids)
    counts = patch_counts(stack.emu)
    assert counts.pop(unlucky) == 2 and set(counts.values()) == {1}
    text = procs.output()
    retrying = events(text, "rotation.retrying")  # the 503, and any "later" of the rate limiter
    assert unlucky in {e["auth_config_id"] for e in retrying}
    assert _received(text, "rotator.rotate") == len(retrying)  # each requeued alone
    [done] = [e for e in events(text, "rotation.succeeded") if e["auth_config_id"] == unlucky]
    assert done["task_retries"] == 1
    procs.assert_clean()


def _send_batch(env: dict[str, str], entries: object) -> None:
    """What a hostile or broken sender does: ``send_task`` by name with any argument."""
    code = (
        "import json, sys; from rotator.worker.app import app; "
        "app.send_task('rotator.rotate_batch', args=[json.loads(sys.argv[1])])"
    )
    subprocess.run(
        [sys.executable, "-c", code, json.dumps(entries)],
        env={**os.environ, **env},
        check=True,
        timeout=60,
    )


def test_a_hostile_batch_message_rejects_each_bad_entry_alone_and_rotates_the_rest(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """A batch with a non-nanoid, a string, a non-bool force and an unknown key: each bad entry
    is one rotation.failed line and one dead letter naming what is wrong; the good entries
    rotate; a message that is not a list is refused whole, in one line; the worker stays up."""
    seed(stack, ["ac_h1", "ac_h2"])
    procs.worker("w1", 4)
    _send_batch(
        celery_env,
        [
            {"auth_config_id": "ac_h1"},
            {"auth_config_id": "../etc/passwd"},
            "ac_h9",
            {"auth_config_id": "ac_h8", "force": "yes"},
            {"auth_config_id": "ac_h7", "\x1b[31m": 1},
            {"auth_config_id": "ac_h2", "trigger": "sweep"},
        ],
    )
    _send_batch(celery_env, {"auth_config_id": "ac_h1"})
    wait_until("5 dead letters", lambda: len(stack.rt.state.dead_letters()) >= 5, 60)
    wait_until("both good entries PATCHed", lambda: len(patch_counts(stack.emu)) == 2, 60)
    assert patch_counts(stack.emu) == {"ac_h1": 1, "ac_h2": 1}
    errors = sorted(e["error"] for _, e in stack.rt.state.dead_letters())
    assert any("entries must be a list, not dict" in e for e in errors)
    assert any("entry 2 must be an object, not str" in e for e in errors)
    assert any("'../etc/passwd' is not a nanoid" in e for e in errors)
    assert any("force 'yes' must be true or false" in e for e in errors)
    assert any("entry 4 has unknown keys: '\\x1b[31m'" in e for e in errors)
    assert "\x1b" not in procs.output()
    procs.assert_clean(allowed=[FAILED_LINE])


def test_a_warm_shutdown_waits_for_one_rotation_and_hands_the_rest_of_its_batch_back(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """A batch of 10 at 1 s per PATCH on one thread, the worker told to stop (SIGTERM) during
    the first PATCH: it exits cleanly within 5 s, not after the 10 s the batch would take; the
    entries it had not started go back to the queue as single tasks, and a new worker brings
    all 10 in step, each PATCHed once. With the shipped defaults (visibility timeout, lock
    TTL): nothing here waits for either."""
    ids = [f"ac_s{n:02d}" for n in range(10)]
    seed(stack, ids)
    stack.emu.inject(Fault(delay=1.0), times=None)
    env = default_env(stack)
    procs.env = {**os.environ, **env}
    first = procs.worker("w1", 1)
    _send_batch(env, [{"auth_config_id": i} for i in ids])
    wait_until("the first PATCH", lambda: len(stack.emu.patches()) >= 1, 60)
    asked = time.monotonic()
    os.killpg(first.pid, signal.SIGTERM)
    first.wait(timeout=30)
    stopped_in = time.monotonic() - asked
    print(f"warm shutdown took {stopped_in:.1f} s; PATCHes by then: {len(stack.emu.patches())}")
    assert first.returncode == 0 and stopped_in < 5
    assert len(stack.emu.patches()) <= 2  # the one in flight (and at most the next)
    procs.worker("w2", 4)
    wait_until("all 10 in step", lambda: len(patch_counts(stack.emu)) == len(ids), 60)
    assert patch_counts(stack.emu) == dict.fromkeys(ids, 1)
    procs.assert_clean()


def test_a_defect_in_one_entry_fails_it_alone_and_a_failed_requeue_does_not_stop_the_batch(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process (the batch task's body on the stack's real runtime): an entry whose
    rotation raises (a defect, injected) is failed and dead-lettered, replayable; an entry
    whose requeue cannot be published (the broker away, injected) is logged; the entries
    after both rotate."""
    from rotator.worker import tasks

    seed(stack, ["ac_d1", "ac_d2", "ac_d3"])
    real = stack.rt.service.rotate_queued

    def defect_for_d1(nanoid: str, **kw: Any) -> Any:
        if nanoid == "ac_d1":
            raise KeyError("a bug")
        return real(nanoid, **kw)

    def broker_away(*_: object, **__: object) -> None:
        raise ConnectionError("broker away")

    monkeypatch.setattr(stack.rt.service, "rotate_queued", defect_for_d1)
    monkeypatch.setattr(tasks, "rotate", SimpleNamespace(apply_async=broker_away))
    stack.emu.inject(Fault(status=503), nanoid="ac_d2", times=None)
    with capture_logs() as logs:
        entries = [{"auth_config_id": n} for n in ("ac_d1", "ac_d2", "ac_d3")]
        out = tasks.run_batch(stack.rt, entries, keep=True)
    results = {o["auth_config_id"]: o["result"] for o in out["outcomes"]}
    assert results == {"ac_d1": "failed", "ac_d3": "succeeded"} and out["requeued"] == {}
    [dead] = [e for _, e in stack.rt.state.dead_letters()]
    assert dead["auth_config_id"] == "ac_d1" and "internal error (KeyError)" in dead["error"]
    failed = [e for e in logs if e["event"] == "rotation.requeue_failed"]
    assert [(e["auth_config_id"], e["error"]) for e in failed] == [("ac_d2", "ConnectionError")]
