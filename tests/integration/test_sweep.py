"""The sweep against real Vault and Redis: only changed configs are queued, once; quarantine
and pause behave as documented; two beats and two workers push each change once."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rotator.devkit.emulator import Fault
from rotator.worker.sweep import SLICE, sweep
from tests.faults_support import seed
from tests.helpers import Stack
from tests.procs import Procs, run_cli, wait_until


def _sweep(stack: Stack) -> tuple[list[tuple[str, bool]], dict[str, object]]:
    queued: list[tuple[str, bool]] = []
    summary = sweep(stack.rt, lambda i, force: queued.append((i, force)), queue_ttl=60)
    return queued, summary.__dict__


def _release(stack: Stack, ids: list[tuple[str, bool]]) -> None:
    for nanoid, _ in ids:
        stack.rt.state.release_queue(nanoid)


def test_sweep_queues_only_changed_configs_and_never_twice(stack: Stack) -> None:
    """New and changed configs are queued once; in-step ones are not; a queued one is not again."""
    for n in range(4):
        stack.put(f"ac_s{n}", {"credentials": {"client_secret": f"sec-s{n}"}})
    for n in range(2):
        stack.rt.service.rotate(f"ac_s{n}")
    stack.write("ac_s1", {"credentials": {"client_secret": "sec-s1-v2"}})
    queued, summary = _sweep(stack)
    assert sorted(queued) == [("ac_s1", False), ("ac_s2", False), ("ac_s3", False)]
    assert summary["checked"] == 4 and summary["queued"] == 3 and summary["skipped"] == 1
    again, summary = _sweep(stack)
    assert again == [] and summary["already_queued"] == 3


def test_the_sweep_queues_each_slice_before_it_reads_the_next(stack: Stack) -> None:
    """A fleet of one slice and a bit more: the first slice's rotations are queued and sent
    (``flush``) before the sweep reads the rest, so the workers start on them at once; the
    summary counts the whole fleet."""
    ids = [f"ac_sl{n:04d}" for n in range(SLICE + 40)]
    seed(stack, ids)
    steps: list[str] = []

    def enqueue(nanoid: str, force: bool) -> None:
        steps.append("queue")

    summary = sweep(stack.rt, enqueue, queue_ttl=60, flush=lambda: steps.append("send"))
    assert steps == ["queue"] * SLICE + ["send"] + ["queue"] * 40 + ["send"]
    assert (summary.checked, summary.queued) == (SLICE + 40, SLICE + 40)


def test_quarantine_stops_queueing_until_the_vault_version_changes(stack: Stack) -> None:
    """Three permanent failures at one version quarantine a config; a new version releases it."""
    stack.put("ac_qq", {"credentials": {"client_secret": "sec-qq"}})
    stack.emu.inject(Fault(status=400), nanoid="ac_qq", times=None)
    for _ in range(3):
        assert stack.rt.service.rotate("ac_qq").result == "failed"
    queued, summary = _sweep(stack)
    assert queued == [] and summary["quarantined"] == 1
    assert {r.auth_config_id: r.state for r in stack.rt.status_rows()}["ac_qq"] == "quarantined"
    stack.write("ac_qq", {"credentials": {"client_secret": "sec-qq-v2"}})
    queued, _ = _sweep(stack)
    assert queued == [("ac_qq", False)]


def test_pause_stops_the_sweep_and_resume_restores_it(stack: Stack) -> None:
    """Paused configs (one, or all) are not queued and show as paused; resume undoes it."""
    stack.put("ac_p1", {"credentials": {"client_secret": "sec-p1"}})
    stack.put("ac_p2", {"credentials": {"client_secret": "sec-p2"}})
    stack.rt.state.pause("ac_p1")
    queued, summary = _sweep(stack)
    assert queued == [("ac_p2", False)] and summary["paused"] == 1
    _release(stack, queued)
    stack.rt.state.pause()
    queued, summary = _sweep(stack)
    assert queued == [] and summary["paused"] == 2
    assert {r.state for r in stack.rt.status_rows()} == {"paused"}
    stack.rt.state.resume()
    stack.rt.state.resume("ac_p1")
    queued, _ = _sweep(stack)
    assert sorted(queued) == [("ac_p1", False), ("ac_p2", False)]


def test_pause_blocks_queued_rotations_but_not_forced_ones(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """While paused, a queued rotation is skipped; `--force` still pushes."""
    stack.put("ac_pf", {"credentials": {"client_secret": "sec-pf"}})
    assert run_cli(celery_env, "pause", "ac_pf").returncode == 0
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_pf", "--wait", "--json")
    assert json.loads(res.stdout)[0]["result"] == "skipped" and stack.emu.patches() == []
    res = run_cli(celery_env, "rotate", "ac_pf", "--force", "--wait", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)[0]["result"] == "succeeded"
    assert stack.emu.credentials("ac_pf") == {"client_secret": "sec-pf"}


def test_two_beats_two_workers_push_each_change_once_and_fail_over(
    stack: Stack, procs: Procs
) -> None:
    """With two beats and two workers each Vault change is PATCHed once, and no Celery result
    is stored for the sweeps or the rotations they queue; killing the active beat hands the
    schedule to the other."""
    ids = [f"ac_b{n}" for n in range(5)]
    for nanoid in ids:
        stack.put(nanoid, {"credentials": {"client_secret": f"sec-{nanoid}-1"}})
    procs.worker("w1", concurrency=4)
    procs.worker("w2", concurrency=4)
    beats = [procs.beat("b1"), procs.beat("b2")]
    wait_until("first sync", lambda: all(stack.rt.state.get_applied(i) for i in ids), 60)
    # nobody waits on the sweep or its rotations: no Celery result stored for any of them
    assert list(stack.rt.state.redis.scan_iter("celery-task-meta-*")) == []
    stack.write("ac_b0", {"credentials": {"client_secret": "sec-ac_b0-2"}})
    wait_until("v2 pushed", lambda: _applied(stack, "ac_b0") == 2, 30)
    sent = [_sent_sweeps(log) for log in procs.logs[2:]]
    assert sorted(n > 0 for n in sent) == [False, True], f"exactly one active beat: {sent}"
    active = 0 if sent[0] else 1
    procs.kill(beats[active])
    stack.write("ac_b1", {"credentials": {"client_secret": "sec-ac_b1-2"}})
    wait_until("v2 pushed after failover", lambda: _applied(stack, "ac_b1") == 2, 60)
    assert _sent_sweeps(procs.logs[2 + 1 - active]) > 0  # the standby took over
    for nanoid in ids:
        assert len(stack.emu.patches(nanoid)) == (2 if nanoid in ("ac_b0", "ac_b1") else 1)


def _applied(stack: Stack, nanoid: str) -> int | None:
    applied = stack.rt.state.get_applied(nanoid)
    return applied.version if applied else None


def _sent_sweeps(log: Path) -> int:
    """How many sweeps a beat process has sent, from its own log."""
    return log.read_text(errors="replace").count("Sending due task rotator-sweep")


def test_a_queued_config_is_a_debug_line_and_the_sweep_ends_with_one_info_line(
    stack: Stack, log_stream: io.StringIO
) -> None:
    """At INFO a rotation has one line of its own (``rotation.*``): the sweep's per-config
    ``sweep.queued`` is DEBUG, and its ``sweep.completed`` (INFO) counts what it queued."""
    for n in range(3):
        stack.put(f"ac_q{n}", {"credentials": {"client_secret": f"sec-q{n}"}})
    _sweep(stack)
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.strip()]
    queued = [e for e in lines if e.get("event") == "sweep.queued"]
    assert sorted(e["auth_config_id"] for e in queued) == ["ac_q0", "ac_q1", "ac_q2"]
    assert {e["level"] for e in queued} == {"debug"}
    completed = [e for e in lines if e.get("event") == "sweep.completed"]
    assert [(e["level"], e["queued"]) for e in completed] == [("info", 3)]
