"""The service for real: Celery worker subprocesses on the test Redis, the CLI's queued path."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading

import redis

from rotator.emulator import Fault
from tests.helpers import Stack
from tests.procs import Procs, run_cli, wait_until


def test_rotate_through_the_queue_with_wait(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """`rotator rotate ID --wait` queues on a worker, waits, prints the outcome, exits 0."""
    stack.put("ac_q1", {"credentials": {"client_secret": "sec-q1"}})
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_q1", "--wait", "--timeout", "60", "--json")
    assert res.returncode == 0, res.stderr
    [row] = json.loads(res.stdout)
    assert row["auth_config_id"] == "ac_q1" and row["result"] == "succeeded"
    assert stack.emu.credentials("ac_q1") == {"client_secret": "sec-q1"}
    assert "queued ac_q1 task " in res.stderr


def test_wait_exit_code_is_1_when_a_rotation_fails(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """A permanent failure (400) makes `--wait` exit 1; the other auth config succeeds."""
    stack.put("ac_q2", {"credentials": {"client_secret": "sec-q2"}})
    stack.put("ac_q3", {"credentials": {"client_secret": "sec-q3"}})
    stack.emu.inject(Fault(status=400), nanoid="ac_q3")
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_q2", "ac_q3", "--wait", "--json")
    assert res.returncode == 1
    rows = {r["auth_config_id"]: r for r in json.loads(res.stdout)}
    assert rows["ac_q2"]["result"] == "succeeded"
    assert rows["ac_q3"]["result"] == "failed" and rows["ac_q3"]["http_status"] == 400


def test_transient_failure_is_retried_by_countdown_then_succeeds(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """Two 503s go back to the queue with a countdown; the third delivery succeeds."""
    stack.put("ac_t1", {"credentials": {"client_secret": "sec-t1"}})
    stack.emu.inject(Fault(status=503), nanoid="ac_t1", times=2)
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_t1", "--wait", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert [p.status for p in stack.emu.patches("ac_t1")] == [503, 503, 200]
    assert '"event": "rotation.retrying"' in procs.output()


def test_exhausted_retries_end_in_the_dead_letter(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """A config that keeps failing transiently is dead-lettered after the last retry."""
    stack.put("ac_t2", {"credentials": {"client_secret": "sec-t2"}})
    stack.emu.inject(Fault(status=503), nanoid="ac_t2", times=None)
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_t2", "--wait", "--json")
    assert res.returncode == 1
    assert len(stack.emu.patches("ac_t2")) == 4  # the first try and three retries
    [(_, entry)] = stack.rt.state.dead_letters()
    assert entry["auth_config_id"] == "ac_t2" and "retries exhausted" in entry["reason"]
    listed = run_cli(celery_env, "dlq", "list")
    assert "ac_t2" in listed.stdout and "503" in listed.stdout


def test_killed_worker_loses_nothing(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """SIGKILL a worker mid-rotations: tasks are redelivered; every config ends equal to Vault."""
    ids = [f"ac_k{i:02d}" for i in range(12)]
    for i in ids:
        stack.put(i, {"credentials": {"client_secret": f"sec-{i}"}})
    stack.emu.inject(Fault(delay=0.4), times=None)
    first = procs.worker("w1", concurrency=4)
    res = run_cli(celery_env, "rotate", *ids)
    assert res.returncode == 0, res.stderr
    wait_until("a few PATCHes in flight", lambda: len(stack.emu.patches()) >= 3)
    procs.kill(first)
    stack.emu.clear_faults()
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
        with redis.Redis.from_url(redis_url) as client, client.monitor() as m:
            for cmd in m.listen():
                seen.append(str(cmd["command"]))
                if stop.is_set():
                    return

    t = threading.Thread(target=monitor, daemon=True)
    t.start()
    wait_until("MONITOR attached", lambda: bool(stack.rt.state.ping()), timeout=5)
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_m0", "ac_m1", "ac_m2", "--wait", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    stop.set()
    stack.rt.state.ping()  # one more command so the monitor loop sees the stop flag
    t.join(timeout=10)
    traffic = _with_decoded_base64("\n".join(seen))
    assert "rotator.rotate" in traffic  # the capture really saw the task messages
    assert '"ac_m1"' in traffic  # ... and decoded their (base64) bodies
    for value in values:
        assert value not in traffic
        assert value not in procs.output()
        assert value not in res.stdout + res.stderr


def _with_decoded_base64(text: str) -> str:
    """The text plus every base64 blob in it decoded (kombu base64-encodes message bodies)."""
    decoded = []
    for blob in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            decoded.append(
                base64.b64decode(blob + "=" * (-len(blob) % 4)).decode("utf-8", "replace")
            )
        except (binascii.Error, ValueError):
            continue
    return "\n".join([text, *decoded])
