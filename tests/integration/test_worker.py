"""The service for real: Celery worker subprocesses on the test Redis, the CLI's queued path."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from pathlib import Path

import redis

from rotator.devkit.emulator import Fault
from tests.faults_support import events
from tests.helpers import Stack
from tests.leakcheck import with_decoded_base64
from tests.procs import Procs, assert_cli_ok, run_cli, send_rotate, wait_until

# rotation.failed is logged at ERROR: the dead-letter tests expect it, nothing else.
FAILED_LINE = r'"event": "rotation\.failed"'


def _task_lines(text: str, task_id: str, what: str) -> list[str]:
    """Celery's own lines for one task id: ``received``, ``retry:``, ``succeeded`` ..."""
    return [line for line in text.splitlines() if f"[{task_id}] {what}" in line]


def test_rotate_through_the_queue_with_wait(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """`rotator rotate ID --wait` queues on a worker, waits, prints the outcome, exits 0."""
    stack.put("ac_q1", {"credentials": {"client_secret": "sec-q1"}})
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_q1", "--wait", "--timeout", "60", "--json")
    assert_cli_ok(res)
    [row] = json.loads(res.stdout)
    assert row["auth_config_id"] == "ac_q1" and row["result"] == "succeeded"
    assert stack.emu.credentials("ac_q1") == {"client_secret": "sec-q1"}
    assert "queued 1 rotation(s)" in res.stderr
    procs.assert_clean()


def test_wait_exit_code_is_1_when_a_rotation_fails(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """A permanent failure (400) makes `--wait` exit 1; the other auth config succeeds."""
    stack.put("ac_q2", {"credentials": {"client_secret": "sec-q2"}})
    stack.put("ac_q3", {"credentials": {"client_secret": "sec-q3"}})
    stack.emu.inject(Fault(status=400), nanoid="ac_q3")
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_q2", "ac_q3", "--wait", "--json")
    assert_cli_ok(res, 1)
    rows = {r["auth_config_id"]: r for r in json.loads(res.stdout)}
    assert rows["ac_q2"]["result"] == "succeeded"
    assert rows["ac_q3"]["result"] == "failed" and rows["ac_q3"]["http_status"] == 400
    procs.assert_clean(allowed=[FAILED_LINE])


def test_transient_failure_is_retried_by_countdown_then_succeeds(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """Two 503s go back to the queue with a countdown; the third delivery succeeds. Proved a
    Celery retry, not in-call retries: one task id delivered three times, Celery logging a
    ``retry: Retry in`` for each 503 (and no per-task "received" line at INFO), the task's
    ``retries`` count 0, 1, then 2 on the success,
    and each PATCH at least the 1 s minimum countdown after the one before."""
    stack.put("ac_t1", {"credentials": {"client_secret": "sec-t1"}})
    stack.emu.inject(Fault(status=503), nanoid="ac_t1", times=2)
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_t1", "--wait", "--json")
    assert_cli_ok(res)
    patches = stack.emu.patches("ac_t1")
    assert [p.status for p in patches] == [503, 503, 200]
    assert all(b.time - a.time >= 1.0 for a, b in itertools.pairwise(patches))
    out = procs.output()
    retrying = events(out, "rotation.retrying")
    [succeeded] = events(out, "rotation.succeeded")
    task_id = succeeded["task_id"]
    assert [(e["retries"], e["task_id"]) for e in retrying] == [(0, task_id), (1, task_id)]
    assert succeeded["retries"] == 2
    # Celery's "received" line is DEBUG (one line per rotation): the canonical lines' retries
    # 0, 1, 2 on one task id are the three deliveries.
    assert not _task_lines(out, task_id, "received")
    assert not _task_lines(out, task_id, "succeeded in")
    assert len(_task_lines(out, task_id, "retry: Retry in ")) == 2
    procs.assert_clean()


def test_exhausted_retries_end_in_the_dead_letter(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """A config that keeps failing transiently is dead-lettered after the last retry."""
    stack.put("ac_t2", {"credentials": {"client_secret": "sec-t2"}})
    stack.emu.inject(Fault(status=503), nanoid="ac_t2", times=None)
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_t2", "--wait", "--json")
    assert_cli_ok(res, 1)
    assert len(stack.emu.patches("ac_t2")) == 4  # the first try and three retries
    [(_, entry)] = stack.rt.state.dead_letters()
    assert entry["auth_config_id"] == "ac_t2" and "retries exhausted" in entry["reason"]
    listed = run_cli(celery_env, "dlq", "list")
    assert_cli_ok(listed)
    assert "ac_t2" in listed.stdout and "503" in listed.stdout
    procs.assert_clean(allowed=[FAILED_LINE])


def test_killed_worker_loses_nothing(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """SIGKILL a worker mid-rotations: tasks are redelivered; every config ends equal to Vault.
    The kill is shown to land on work in flight: PATCHes the emulator received less than its
    0.4 s reply delay before the kill (so never answered to the killed worker), and task ids the
    killed worker received but never finished, which the second worker then completes."""
    ids = [f"ac_k{i:02d}" for i in range(12)]
    for i in ids:
        stack.put(i, {"credentials": {"client_secret": f"sec-{i}"}})
    delay = 0.4
    stack.emu.inject(Fault(delay=delay), times=None)
    # DEBUG: Celery's per-task "received"/"succeeded" lines (debug level: one canonical line per
    # rotation at INFO) are how this test names the tasks the kill cut short.
    procs.env["ROTATOR_LOG_LEVEL"] = "DEBUG"
    first = procs.worker("w1", concurrency=4)
    res = run_cli(celery_env, "rotate", *ids)
    assert_cli_ok(res)
    wait_until("a few PATCHes in flight", lambda: len(stack.emu.patches()) >= 3)
    killed_at = time.time()
    procs.kill(first)
    unanswered = [p for p in stack.emu.patches() if p.time > killed_at - delay]
    stack.emu.clear_faults()
    killed_log = procs.logs[0].read_text(errors="replace")
    procs.worker("w2", concurrency=4)
    wait_until(
        "every auth config equal to Vault",
        lambda: all(stack.emu.credentials(i).get("client_secret") == f"sec-{i}" for i in ids),
        timeout=60,
    )
    wait_until(
        "every auth config recorded as applied",
        lambda: all(stack.rt.state.get_applied(i) is not None for i in ids),
        timeout=30,
    )
    assert unanswered, "no PATCH was in flight when the worker was killed"
    assert not any(p.request_id in killed_log for p in unanswered)  # w1 never saw the answer
    received = set(re.findall(r"rotator\.rotate\[([0-9a-f-]+)\] received", killed_log))
    finished = set(re.findall(r"rotator\.rotate\[([0-9a-f-]+)\] succeeded", killed_log))
    cut_short = received - finished
    assert cut_short, "the killed worker had no task running"
    # a task cut short after recording its success comes back only after the visibility timeout
    wait_until(
        "every task cut short by the kill redelivered and finished",
        lambda: all(f"[{t}] succeeded" in procs.output() for t in cut_short),
        timeout=30,
    )
    procs.assert_clean()


def test_broker_traffic_carries_no_secret_values(
    stack: Stack, procs: Procs, celery_env: dict[str, str], redis_url: str
) -> None:
    """Everything sent to Redis (MONITOR) during queued rotations holds no secret value."""
    values = [f"S3CR3T-broker-{n}" for n in range(3)]
    for n, value in enumerate(values):
        stack.put(f"ac_m{n}", {"credentials": {"client_secret": value}})
    stack.emu.inject(Fault(status=503), nanoid="ac_m0", times=1)
    seen: list[str] = []
    stop = threading.Event()

    def monitor() -> None:
        # No read timeout: MONITOR is quiet while the worker starts on a loaded machine.
        no_timeout = {"socket_timeout": None, "health_check_interval": 0}
        with redis.Redis.from_url(redis_url, **no_timeout) as client, client.monitor() as m:
            for cmd in m.listen():
                seen.append(str(cmd["command"]))
                if stop.is_set():
                    return

    t = threading.Thread(target=monitor, daemon=True)
    t.start()
    wait_until("MONITOR attached", lambda: bool(stack.rt.state.ping()), timeout=5)
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_m0", "ac_m1", "ac_m2", "--wait", "--json")
    assert_cli_ok(res)
    stop.set()
    stack.rt.state.ping()  # one more command so the monitor loop sees the stop flag
    t.join(timeout=10)
    traffic = with_decoded_base64("\n".join(seen))
    assert "rotator.rotate" in traffic  # the capture really saw the task messages
    assert '"ac_m1"' in traffic  # ... and decoded their (base64) bodies
    for value in values:
        assert value not in traffic
        assert value not in procs.output()
        assert value not in res.stdout + res.stderr
    procs.assert_clean()


def test_a_worker_that_cannot_build_its_runtime_fails_each_rotation_with_the_reason(
    stack: Stack, procs: Procs, celery_env: dict[str, str], tmp_path: Path
) -> None:
    """The worker's fingerprint key file is too short (read when the first task builds the
    runtime, not at start-up): a queued rotation fails with that reason in its result and
    its rotation.failed line, not "task ended in state FAILURE", and nothing is pushed."""
    stack.put("ac_fk1", {"credentials": {"client_secret": "sec-fk1"}})
    key = tmp_path / "fingerprint.key"
    key.write_text("short")
    key.chmod(0o600)
    procs.env = {k: v for k, v in procs.env.items() if k != "ROTATOR_FINGERPRINT_KEY"}
    procs.env["ROTATOR_FINGERPRINT_KEY_FILE"] = str(key)
    procs.worker("w1")
    result = send_rotate(celery_env, "ac_fk1")  # another service, with settings of its own
    assert result["result"] == "failed", result
    assert "the key must be at least 32 bytes" in str(result["error"]), result
    [line] = events(procs.output(), "rotation.failed")
    assert line["auth_config_id"] == "ac_fk1" and "at least 32 bytes" in line["error"]
    assert stack.emu.patches("ac_fk1") == []
    procs.assert_clean(allowed=[FAILED_LINE])
