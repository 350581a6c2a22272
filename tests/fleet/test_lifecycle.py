"""The service owns a rotation's whole life: the pause gate in every path (inline, queued on a
real worker, dead-letter replay, the demo), the requeue countdown, the give-up and the dedupe key.
"""

from __future__ import annotations

import io
import json

import pytest
import redis

from rotator.devkit.demo.run import rotation_round
from rotator.devkit.emulator import Fault
from rotator.state.store import Keys
from tests.helpers import Stack
from tests.procs import Procs, run_cli

SECRET: dict[str, object] = {"credentials": {"client_secret": "sec-life"}}


def _paused_skips(stack: Stack, nanoid: str) -> list[dict[str, str]]:
    """The audit entries that record ``nanoid`` skipped because it is paused."""
    return [
        e
        for _, e in stack.rt.state.audit_events()
        if e.get("auth_config_id") == nanoid and e.get("reason") == "paused"
    ]


def _logged_paused_skip(log_stream: io.StringIO, nanoid: str) -> bool:
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    return any(
        line["event"] == "rotation.skipped"
        and line.get("reason") == "paused"
        and line.get("auth_config_id") == nanoid
        for line in lines
    )


@pytest.mark.parametrize("scope", ["global", "per config"])
def test_paused_inline_rotation_is_a_logged_and_audited_skip(
    stack: Stack, log_stream: io.StringIO, scope: str
) -> None:
    """Paused (everything, or this config): an inline rotation sends no PATCH, logs
    rotation.skipped reason=paused and writes an audit entry; --force still pushes."""
    stack.put("ac_p1", SECRET)
    stack.rt.state.pause(None if scope == "global" else "ac_p1")
    out = stack.rt.service.rotate("ac_p1")
    assert (out.result, out.reason) == ("skipped", "paused")
    assert stack.emu.patches("ac_p1") == []
    assert _logged_paused_skip(log_stream, "ac_p1")
    assert len(_paused_skips(stack, "ac_p1")) == 1
    forced = stack.rt.service.rotate("ac_p1", force=True)
    assert forced.result == "succeeded" and len(stack.emu.patches("ac_p1")) == 1


def test_cli_rotate_all_inline_pushes_nothing_while_paused(stack: Stack) -> None:
    """`rotator pause` then `rotate --all --inline`: every config is skipped as paused, exit 0;
    `pause NANOID` stops only that one."""
    stack.put("ac_p2", SECRET)
    stack.put("ac_p3", SECRET)
    assert run_cli(stack.env, "pause").returncode == 0
    res = run_cli(stack.env, "rotate", "--all", "--inline", "--json")
    assert res.returncode == 0, res.stderr
    assert {(r["result"], r["reason"]) for r in json.loads(res.stdout)} == {("skipped", "paused")}
    assert stack.emu.patches() == []
    assert run_cli(stack.env, "resume").returncode == 0
    assert run_cli(stack.env, "pause", "ac_p2").returncode == 0
    res = run_cli(stack.env, "rotate", "--all", "--inline", "--json")
    rows = {r["auth_config_id"]: r for r in json.loads(res.stdout)}
    assert rows["ac_p2"]["reason"] == "paused" and rows["ac_p3"]["result"] == "succeeded"
    assert stack.emu.patches("ac_p2") == [] and len(stack.emu.patches("ac_p3")) == 1


def test_dlq_replay_inline_skips_a_paused_config(stack: Stack) -> None:
    """Replaying a dead letter inline while paused pushes nothing (the skip is audited)."""
    stack.put("ac_p4", SECRET)
    stack.emu.inject(Fault(status=400), nanoid="ac_p4")
    assert stack.rt.service.rotate("ac_p4").result == "failed"
    stack.rt.state.pause("ac_p4")
    res = run_cli(stack.env, "dlq", "replay", "--inline")
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(stack.emu.patches("ac_p4")) == 1  # only the original 400
    assert len(_paused_skips(stack, "ac_p4")) == 1


def test_the_demo_round_skips_paused_configs(stack: Stack) -> None:
    """The demo's rotation round goes through the same gate: paused means nothing pushed."""
    stack.put("ac_p5", SECRET)
    stack.rt.state.pause()
    [out] = rotation_round(stack.rt, "paused round")
    assert (out.result, out.reason) == ("skipped", "paused")
    assert stack.emu.patches() == []


def test_queued_rotation_on_a_worker_skips_while_paused_and_force_pushes(
    stack: Stack, procs: Procs, celery_env: dict[str, str]
) -> None:
    """On a real worker: a paused config's queued rotation is a skip that releases the dedupe
    key; `rotate --force --wait` pushes it."""
    stack.put("ac_p6", SECRET)
    stack.rt.state.pause()
    procs.worker("w1")
    res = run_cli(celery_env, "rotate", "ac_p6", "--wait", "--json", "--timeout", "60")
    assert res.returncode == 0, res.stdout + res.stderr
    [row] = json.loads(res.stdout)
    assert (row["result"], row["reason"]) == ("skipped", "paused")
    assert stack.emu.patches() == [] and len(_paused_skips(stack, "ac_p6")) == 1
    assert '"reason": "paused"' in procs.output()
    res = run_cli(celery_env, "rotate", "ac_p6", "--force", "--wait", "--json", "--timeout", "60")
    [row] = json.loads(res.stdout)
    assert row["result"] == "succeeded" and len(stack.emu.patches("ac_p6")) == 1


def test_requeue_countdown_grows_from_the_first_retry_with_the_defaults(stack: Stack) -> None:
    """A persistent 503 with the default retry settings: requeues 1, 2, 3 wait 5-10 s, 10-20 s
    and 20-40 s (the bug was 20-40 s for all three), the dedupe key outlives each countdown,
    and when the retries run out the rotation is dead-lettered and the key released."""
    stack.put("ac_g1", SECRET)
    stack.emu.inject(Fault(status=503), nanoid="ac_g1", times=None)
    settings = stack.rt.settings
    assert (settings.retry_in_call_max_wait, settings.retry_max_delay) == (5.0, 300.0)
    assert settings.retry_in_call_attempts == 3 and settings.task_max_retries >= 3
    with redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"]) as client:
        _grows_then_gives_up(stack, client)


def _grows_then_gives_up(stack: Stack, client: redis.Redis) -> None:
    service, settings = stack.rt.service, stack.rt.settings
    for retries, (low, high) in enumerate([(5.0, 10.0), (10.0, 20.0), (20.0, 40.0)]):
        out = service.rotate_queued("ac_g1", force=False, version=None, retries=retries)
        assert out.result == "retry_later" and out.server_wait is None
        assert out.retry_in is not None and low <= out.retry_in <= high, (retries, out.retry_in)
        ttl = client.pttl(Keys.queued("ac_g1")) / 1000
        assert ttl > settings.visibility_timeout + out.retry_in - 5
    last = service.rotate_queued(
        "ac_g1", force=False, version=None, retries=settings.task_max_retries
    )
    assert last.result == "failed" and last.reason.startswith("retries exhausted")
    assert client.exists(Keys.queued("ac_g1")) == 0
    [(_, entry)] = stack.rt.state.dead_letters()
    assert entry["auth_config_id"] == "ac_g1"
    error = stack.rt.state.get_last_error("ac_g1")
    assert error is not None and error.kind == "exhausted"


def test_a_queued_rotation_s_success_drops_the_dedupe_key_with_its_record(stack: Stack) -> None:
    """The sweep's dedupe key goes in the same round trip as the success record (no separate
    DEL); the applied version is there, and a later skip leaves no key behind either."""
    stack.put("ac_d1", SECRET)
    client = stack.rt.state.redis
    client.set(Keys.queued("ac_d1"), "1", px=270_000)
    out = stack.rt.service.rotate_queued("ac_d1", force=False, version=None, retries=0)
    assert out.result == "succeeded"
    assert client.exists(Keys.queued("ac_d1")) == 0
    applied = stack.rt.state.get_applied("ac_d1")
    assert applied is not None and applied.version == 1
    client.set(Keys.queued("ac_d1"), "1", px=270_000)
    again = stack.rt.service.rotate_queued("ac_d1", force=False, version=None, retries=0)
    assert again.result == "skipped" and client.exists(Keys.queued("ac_d1")) == 0
