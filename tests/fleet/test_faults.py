"""The fault suite: real worker subprocesses, Redis, OpenBao and the Composio emulator, with
faults injected everywhere, and every auth config still ending exactly equal to Vault.

Each test is bounded (``timeout``) and waits on conditions with deadlines, never on sleeps.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
from typing import NoReturn

import hvac
import pytest
from celery.exceptions import Retry

from rotator.core.errors import StateUnavailable
from rotator.core.models import Outcome
from rotator.devkit.emulator import Emulator, Fault
from rotator.devkit.sandbox import RedisServer
from rotator.runtime import Runtime
from rotator.worker.sweep import sweep
from tests.faults_support import (
    RATE_LIMITED_SLUG,
    SealableBao,
    ShapedMix,
    Workers,
    applied_versions,
    audit_times,
    build_stack,
    celery_settings,
    converged,
    crash,
    dump_redis,
    events,
    explain,
    fault_labels,
    in_step,
    make_approle,
    patch_counts,
    patched,
    recorded,
    secret_value,
    seed,
    wait_for,
)
from tests.helpers import COMPOSIO_KEY, Stack
from tests.procs import assert_cli_ok, run_cli, wait_until

CHAOS_SEED = 20240611

# 1 -----------------------------------------------------------------------------------------------

CHAOS_CONFIGS = 300
PERMANENT = {  # id -> (status, slug the dead letter must show)
    "ac_c0007": (400, "HTTP_BadRequest"),
    "ac_c0042": (400, "AuthConfig_ValidationError"),
    "ac_c0099": (404, "HTTP_NotFound"),
    "ac_c0150": (404, "AuthConfig_NotFound"),
    "ac_c0201": (422, "HTTP_UnprocessableEntity"),
    "ac_c0288": (422, "AuthConfig_ValidationError"),
}


@pytest.mark.timeout(120)
def test_chaos_mix_300_configs_converge_and_permanent_errors_are_dead_lettered_once(
    stack: Stack, workers: Workers
) -> None:
    """~30% 5xx, 10% 429 (both bare body shapes), 5% drops and 5% hangs on every request while
    300 auth configs rotate on two workers: every one ends equal to Vault; the six with a
    permanent 400/404/422 got exactly one PATCH each and sit in the dead letter with status
    and slug; nothing else is dead-lettered."""
    ids = [f"ac_c{n:04d}" for n in range(CHAOS_CONFIGS)]
    seed(stack, ids)
    for nanoid, (status, slug) in PERMANENT.items():
        stack.emu.inject(Fault(status=status, slug=slug), nanoid=nanoid, times=1)
    stack.emu.set_random_faults(
        ShapedMix(p_5xx=0.30, p_429=0.10, p_drop=0.05, p_hang=0.05, p_applied=0.3),
        seed=CHAOS_SEED,
    )
    env = celery_settings(
        stack,
        ROTATOR_COMPOSIO_TIMEOUT="1",
        ROTATOR_RETRY_IN_CALL_ATTEMPTS="2",
        ROTATOR_TASK_MAX_RETRIES="10",
        ROTATOR_RATE_LIMIT="0",
    )
    procs = workers.group(env)
    procs.worker("w1", concurrency=8)
    procs.worker("w2", concurrency=8)
    started = time.monotonic()
    assert_cli_ok(run_cli(env, "rotate", "--all"))
    healthy = [i for i in ids if i not in PERMANENT]
    wait_for(
        "every healthy auth config equal to Vault",
        lambda: not in_step(stack.emu, healthy),
        90,
        lambda: explain(stack, healthy, procs),
    )
    wait_for(
        "every success recorded",
        lambda: not recorded(stack, healthy),
        30,
        lambda: explain(stack, healthy, procs),
    )
    wait_until(
        "every permanent failure dead-lettered",
        lambda: len(stack.rt.state.dead_letters()) >= len(PERMANENT),
        30,
    )
    took = time.monotonic() - started
    labels = fault_labels(stack.emu)
    counts = patch_counts(stack.emu)
    print(f"chaos: {len(stack.emu.patches())} PATCHes in {took:.1f}s; faults {labels}")
    assert labels.get("429", 0) > 0 and labels.get(f"429 {RATE_LIMITED_SLUG}", 0) > 0
    assert labels.get("drop", 0) + labels.get("drop+applied", 0) > 0 and labels.get("hang", 0) > 0
    for nanoid in PERMANENT:
        assert counts[nanoid] == 1, f"{nanoid} was retried: {counts[nanoid]} PATCHes"
        assert stack.emu.credentials(nanoid) == {}
    dead = {e["auth_config_id"]: e for _, e in stack.rt.state.dead_letters()}
    assert set(dead) == set(PERMANENT), f"dead letters: {sorted(dead)}"
    for nanoid, (status, slug) in PERMANENT.items():
        assert dead[nanoid]["http_status"] == str(status)
        assert dead[nanoid]["error_slug"] == slug
        assert dead[nanoid]["outcome"] == "failed"
    # every fault ended in an outcome: no crash, only the six permanent failures at ERROR
    # About 30% of the answers are 5xx or dropped: five distinct configs failing in a row happens
    # now and then, and the fleet breaker then opens (ERROR) and closes on its probe's success.
    procs.assert_clean(
        allowed=[r'"event": "rotation\.failed"', r'"event": "composio\.circuit_open"']
    )


# 2 -----------------------------------------------------------------------------------------------

KILL_CONFIGS = 100
KILL_CONCURRENCY = 4
KILLS_AT = (15, 35, 55)  # PATCHes seen when the next oldest worker is SIGKILLed


@pytest.mark.timeout(90)
def test_workers_sigkilled_three_times_lose_nothing_and_duplicates_are_bounded(
    stack: Stack, workers: Workers
) -> None:
    """Two workers at a time, the oldest SIGKILLed three times mid-run and replaced: every
    config converges and is recorded. Each kill is shown to hit work in flight: PATCHes the
    emulator received less than its reply delay before the kill, whose answer the killed
    worker never logged, and task ids it received but never finished, all later completed.
    A PATCH is repeated only when its task died between the PATCH and the record of its
    success, and a killed worker (threads pool, one PATCH attempt per delivery) runs at most
    ``concurrency`` tasks at once: so duplicates are at most kills x concurrency (the tasks it
    had reserved but not started come back via the visibility timeout and send nothing
    twice)."""
    ids = [f"ac_k{n:03d}" for n in range(KILL_CONFIGS)]
    seed(stack, ids)
    delay = 0.2
    stack.emu.inject(Fault(delay=delay), times=None)  # keep PATCHes in flight when a kill lands
    # DEBUG: Celery's per-task "received"/"succeeded" lines (debug level since one canonical
    # line per rotation) are how this test names the tasks a kill cut short.
    env = celery_settings(
        stack,
        ROTATOR_VISIBILITY_TIMEOUT="8",
        ROTATOR_LOCK_TTL="3",
        ROTATOR_RETRY_MAX_DELAY="2",
        ROTATOR_LOG_LEVEL="DEBUG",
    )
    procs = workers.group(env)
    alive = [procs.worker(f"w{n}", KILL_CONCURRENCY) for n in (1, 2)]
    assert_cli_ok(run_cli(env, "rotate", "--all"))
    cut_short: list[set[str]] = []
    unanswered: list[list[str]] = []
    for n, at in enumerate(KILLS_AT, start=3):
        wait_until(f"{at} PATCHes", patched(stack.emu, at), 30)
        victim = alive.pop(0)
        killed_at = time.time()
        procs.kill(victim)
        in_flight = [e.request_id for e in stack.emu.patches() if e.time > killed_at - delay]
        log = procs.log_of[victim.pid].read_text(errors="replace")
        unanswered.append([r for r in in_flight if r not in log])
        cut_short.append(procs.unfinished(victim))
        alive.append(procs.worker(f"w{n}", KILL_CONCURRENCY))
    converged(stack, ids, procs)
    print(f"sigkill: unanswered PATCHes per kill {list(map(len, unanswered))}")
    assert any(unanswered), "no kill landed while a PATCH was waiting for its answer"
    assert all(cut_short), f"a killed worker had no task running: {cut_short}"
    # a task cut short after recording its success comes back only after the visibility timeout
    everyone = set().union(*cut_short)
    wait_until(
        "every task cut short by a kill redelivered and finished",
        lambda: all(f"[{t}] succeeded" in procs.output() for t in everyone),
        30,
    )
    counts = patch_counts(stack.emu)
    duplicates = sum(c - 1 for c in counts.values())
    bound = len(KILLS_AT) * KILL_CONCURRENCY
    print(f"sigkill: {len(KILLS_AT)} kills, {sum(counts.values())} PATCHes, {duplicates} repeated")
    assert set(counts) == set(ids)
    assert duplicates <= bound, f"{duplicates} duplicate PATCHes > {bound}: {counts}"
    assert stack.rt.state.dead_letters() == []
    procs.assert_clean()


# 3 -----------------------------------------------------------------------------------------------

RESTART_CONFIGS = 100
# What a worker and a beat may log at ERROR while their Redis is down, and nothing else.
REDIS_OUTAGE_LINES = [
    r'^\{"event": "consumer: Cannot connect to redis://:\*\*@127\.0\.0\.1:\d+/0: ',
    # result_backend_always_retry at work: a warning, with the connection error's traceback
    r'^\{"event": "Failed operation _store_result\. Retrying \d+ more times\."',
    # an ack lost with the connection (CRITICAL): the message is redelivered after the
    # visibility timeout, and the rotation it repeats is a skip
    r"^\{\"event\": \"Couldn't ack '[0-9a-f-]+', reason:network:ConnectionError\"",
    # the result backend's own reconnect loop (celery.backends.redis), then it stores the result
    r'^\{"event": "Connection to Redis lost: Retry \(\d+/\d+\) (now|in [\d.]+ seconds?)\.',
]


@pytest.mark.timeout(90)
def test_redis_restarted_mid_run_with_aof_workers_reconnect_and_all_converge(
    aof_stack: Stack, aof_redis: RedisServer, workers: Workers
) -> None:
    """Redis (AOF on) SIGKILLed (a crash: no shutdown rewrite) while two workers and a beat
    are mid-run, started again once the workers have noticed. What the crash left in the
    append-only file is back right after the restart: every applied version and every audit
    entry written before the kill (audit ids carry their write time, so no re-push can forge
    them); the configs recorded before the crash are never PATCHed again (an empty Redis would
    have the 1 s sweep push them all once more); the workers and the beat reconnect, every
    config converges and is recorded, and nothing is dead-lettered or crashes."""
    stack = aof_stack
    ids = [f"ac_r{n:03d}" for n in range(RESTART_CONFIGS)]
    seed(stack, ids)
    stack.emu.inject(Fault(delay=0.1), times=None)
    # A PATCH whose success record was lost with Redis is pushed again by the sweep once the
    # dedupe key expires: ROTATOR_QUEUE_TTL, 270 s by default (the README's 5-minute bound,
    # shown with the defaults by tests/fleet/test_liveness.py); shrunk here so this test sees it.
    env = celery_settings(
        stack,
        ROTATOR_VISIBILITY_TIMEOUT="8",
        ROTATOR_LOCK_TTL="3",
        ROTATOR_RETRY_MAX_DELAY="2",
        ROTATOR_QUEUE_TTL="10",  # its floor
    )
    procs = workers.group(env)
    procs.worker("w1", 4)
    procs.worker("w2", 4)
    procs.beat("b1")
    wait_until("a third of the PATCHes", patched(stack.emu, RESTART_CONFIGS // 3), 30)
    wait_until("a success recorded", lambda: len(recorded(stack, ids)) < len(ids), 10)
    before_applied = {i: v for i, v in applied_versions(stack, ids).items() if v is not None}
    before_audit = {i for i, _ in stack.rt.state.audit_events(count=100_000)}
    crash(aof_redis)
    before = len(procs.output())
    wait_until(
        "a worker noticed Redis is gone", lambda: "Connection" in procs.output()[before:], 30
    )
    aof_redis.start()
    after_audit = {i for i, _ in stack.rt.state.audit_events(count=100_000)}
    after_applied = applied_versions(stack, list(before_applied))
    print(f"redis crash: {len(before_applied)} applied, {len(before_audit)} audit entries before")
    assert before_audit and before_audit <= after_audit, "audit entries lost in the crash"
    assert after_applied == before_applied, "applied state lost in the crash"
    converged(stack, ids, procs)
    counts = patch_counts(stack.emu)
    print(f"redis restart: {sum(counts.values())} PATCHes for {len(ids)} configs")
    assert {i: counts[i] for i in before_applied} == dict.fromkeys(before_applied, 1)
    assert stack.rt.state.dead_letters() == []
    procs.assert_clean(allowed=REDIS_OUTAGE_LINES)


def test_a_redis_blip_around_a_rotation_never_crashes_the_task(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (rotator/tasks.py): the pause check and the dedupe-key writes let
    StateUnavailable escape, so a Redis blip crashed the task ("raised unexpected") after its
    PATCH, or before it, where Celery then acks the message and the rotation is lost. Now an
    unknown pause state sends the task back to the queue and the dedupe key is best effort.
    (Called directly, not through a broker: ``self.retry`` then raises ``Retry`` at once.)"""
    from rotator.worker import app as celery_app
    from rotator.worker import tasks

    monkeypatch.setattr(celery_app, "_settings", stack.rt.settings)
    monkeypatch.setattr(tasks, "_runtime", stack.rt)
    stack.put("ac_blip", {"credentials": {"client_secret": secret_value("ac_blip")}})

    def redis_down(nanoid: str, *_: object, **__: object) -> NoReturn:
        raise StateUnavailable("Redis state store: ConnectionError")

    with monkeypatch.context() as m:
        m.setattr(stack.rt.state, "begin", redis_down)  # the one round trip: pause, lock, state
        with pytest.raises(Retry):
            tasks.rotate("ac_blip")
    assert stack.emu.patches() == []  # paused or not is unknown: nothing pushed
    # the success record (with the dedupe key's release) and the release alone: best effort
    monkeypatch.setattr(stack.rt.state, "record_success", redis_down)
    monkeypatch.setattr(stack.rt.state, "release_queue", redis_down)
    assert tasks.rotate("ac_blip")["result"] == "succeeded"
    assert stack.emu.credentials("ac_blip") == {"client_secret": secret_value("ac_blip")}


# 4 -----------------------------------------------------------------------------------------------

SEAL_CONFIGS = 60
# A rotation that read Vault just before the seal may still PATCH (0.2 s emulator delay, no
# other fault) and record its success after it: allow it 2 s, ten times what it needs.
IN_FLIGHT_GRACE = 2.0


@pytest.mark.timeout(90)
def test_vault_sealed_then_unsealed_mid_run_is_transient_only_and_all_converge(
    sealable_stack: Stack, sealable_bao: SealableBao, workers: Workers
) -> None:
    """OpenBao (dev mode, its own server) sealed through the API mid-run and unsealed with the
    key from its dev banner: while sealed the rotations only go back to the queue (VaultUnavailable,
    503): no PATCH and no applied version after the in-flight ones, no dead letter, no permanent
    error, no quarantine count; after the unseal every config converges and is recorded."""
    stack = sealable_stack
    ids = [f"ac_v{n:03d}" for n in range(SEAL_CONFIGS)]
    seed(stack, ids)
    stack.emu.inject(Fault(delay=0.2), times=None)
    env = celery_settings(stack, ROTATOR_TASK_MAX_RETRIES="30")
    procs = workers.group(env)
    procs.worker("w1", 2)
    procs.worker("w2", 2)
    procs.beat("b1")
    wait_until("a quarter of the PATCHes", patched(stack.emu, SEAL_CONFIGS // 4), 30)
    sealable_bao.seal()
    sealed_at = time.time()

    def sealed_retries() -> int:
        return sum(
            1
            for e in events(procs.output(), "rotation.retrying")
            if e.get("reason") == "VaultUnavailable" and "sealed" in str(e.get("error"))
        )

    wait_until(
        "ten rotations turned back by the seal, and the in-flight ones done",
        lambda: sealed_retries() >= 10 and time.time() > sealed_at + IN_FLIGHT_GRACE,
        30,
    )
    late = [e for e in stack.emu.patches() if e.time > sealed_at + IN_FLIGHT_GRACE]
    assert late == [], f"PATCHed while Vault was sealed: {late[:3]}"
    assert stack.rt.state.dead_letters() == []
    while_sealed = applied_versions(stack, ids)
    unsealed_at = time.time()
    sealable_bao.unseal()
    converged(stack, ids, procs)
    recorded_while_sealed = [
        t for t in audit_times(stack, "succeeded") if sealed_at + IN_FLIGHT_GRACE < t < unsealed_at
    ]
    assert recorded_while_sealed == []
    assert sum(v is not None for v in while_sealed.values()) < len(ids)  # the seal hit mid-run
    assert stack.rt.state.dead_letters() == []
    assert events(procs.output(), "rotation.failed") == []
    assert all(stack.rt.state.consecutive_failures(i) == 0 for i in ids)
    procs.assert_clean()  # the sweeps too ended cleanly
    assert any(e["errors"] == 1 for e in events(procs.output(), "sweep.completed"))
    print(f"vault sealed: {sealed_retries()} turned back, {len(stack.emu.patches())} PATCHes")


def test_a_sweep_that_cannot_list_vault_ends_cleanly_with_an_error_count(
    unreachable_vault_runtime: Runtime, log_stream: io.StringIO
) -> None:
    """Regression (rotator/sweep.py): a sweep while Vault was sealed or down raised
    VaultUnavailable out of the task ("raised unexpected" with a traceback every interval) and
    logged no ``sweep.completed``; now it logs ``sweep.vault_error`` and a ``sweep.completed``
    with ``errors: 1``, records that summary and queues nothing."""
    queued: list[str] = []
    summary = sweep(unreachable_vault_runtime, lambda i, _: queued.append(i), queue_ttl=60)
    assert (summary.checked, summary.errors, queued) == (0, 1, [])
    [error] = events(log_stream.getvalue(), "sweep.vault_error")
    assert "cannot reach Vault" in error["error"]
    assert events(log_stream.getvalue(), "sweep.completed")[0]["errors"] == 1
    assert unreachable_vault_runtime.state.last_sweep()["errors"] == "1"


# 5 -----------------------------------------------------------------------------------------------

APPROLE_CONFIGS = 60


@pytest.mark.timeout(90)
def test_approle_tokens_revoked_mid_run_workers_log_in_again_and_all_converge(
    stack: Stack, workers: Workers
) -> None:
    """Workers authenticated with AppRole; an operator revokes every token the role issued
    (sys/leases/revoke-prefix/auth/<mount>/login) mid-run: the next Vault call is denied, the
    worker logs in again (``vault.relogin``, reason denied) and carries on; every config
    converges, nothing is dead-lettered."""
    root = hvac.Client(url=stack.env["VAULT_ADDR"], token=stack.env["VAULT_TOKEN"], timeout=5)
    approle = make_approle(root, stack.prefix)
    ids = [f"ac_a{n:03d}" for n in range(APPROLE_CONFIGS)]
    seed(stack, ids)
    stack.emu.inject(Fault(delay=0.2), times=None)
    env = {k: v for k, v in celery_settings(stack, **approle).items() if k != "VAULT_TOKEN"}
    procs = workers.group(env)
    procs.worker("w1", 2)
    procs.worker("w2", 2)
    assert_cli_ok(run_cli(env, "rotate", "--all"))
    wait_until("a quarter of the PATCHes", patched(stack.emu, APPROLE_CONFIGS // 4), 30)
    root.sys.revoke_prefix(prefix=f"auth/{approle['VAULT_APPROLE_MOUNT']}/login")
    revoked_at = len(stack.emu.patches())
    converged(stack, ids, procs)
    relogins = events(procs.output(), "vault.relogin")
    print(f"approle: revoked after {revoked_at} PATCHes; {len(relogins)} re-logins")
    assert relogins and all(e["reason"] == "denied" and e["method"] == "approle" for e in relogins)
    assert len(relogins) <= 2  # once per worker process: the token is shared by its threads
    assert stack.rt.state.dead_letters() == []
    assert events(procs.output(), "rotation.failed") == []
    procs.assert_clean()


# 6 -----------------------------------------------------------------------------------------------

MB = 1024 * 1024


def _envelope(status: int, message: str) -> bytes:
    error = {"message": message, "code": 10000 + status, "slug": "HTTP_Error", "status": status}
    return json.dumps({"error": error}).encode()


# name -> (status, body with {S} where the secret goes, content type, drip s/8 bytes,
#          expected result, text the outcome's error must hold)
GARBAGE: dict[str, tuple[int, bytes, str | None, float, str, str]] = {
    "html from a proxy, 502": (
        502,
        b"<html><head><title>502 Bad Gateway</title></head><body>{S}</body></html>",
        "text/html",
        0.0,
        "retry_later",
        "body is not JSON (text/html, ",
    ),
    "html labelled json, 400": (
        400,
        b"<html><body>oops {S}</body></html>",
        None,
        0.0,
        "failed",
        "body is not JSON",
    ),
    "truncated json, 400": (
        400,
        b'{"error": {"message": "bad {S}',
        None,
        0.0,
        "failed",
        "body is not JSON",
    ),
    "truncated json, 503": (
        503,
        b'{"error": {"message": "{S}", "sta',
        None,
        0.0,
        "retry_later",
        "body is not JSON",
    ),
    "error is a string, 400": (400, b'{"error": "x {S}"}', None, 0.0, "failed", ": x ***"),
    "a list, 422": (422, b'["{S}"]', None, 0.0, "failed", "JSON body is list, not an object"),
    "a string, 404": (404, b'"{S}"', None, 0.0, "failed", "JSON body is str, not an object"),
    "status of the wrong type, 500": (
        500,
        b'{"error": {"status": "five hundred", "code": "{S}", "slug": ["{S}"]}}',
        None,
        0.0,
        "retry_later",
        "Composio answered 500 for ",
    ),
    "5 MB of html, 503": (
        503,
        b"<html>{S}" + b"x" * (5 * MB) + b"</html>",
        "text/html",
        0.0,
        "retry_later",
        "answer larger than 65536 bytes",
    ),
    "5 MB json message, 400": (
        400,
        b'{"error": {"message": "{S}' + b"A" * (5 * MB) + b'"}}',
        None,
        0.0,
        "failed",
        "answer larger than 65536 bytes",
    ),
    "slow drip, 400": (400, _envelope(400, "dripped {S}"), None, 0.02, "failed", "dripped ***"),
    "empty body, 500": (500, b"", None, 0.0, "retry_later", "empty body"),
    "empty body, 400": (400, b"", None, 0.0, "failed", "empty body"),
    "json sent as text/plain, 400": (
        400,
        _envelope(400, "rejected {S}"),
        "text/plain",
        0.0,
        "failed",
        "rejected ***",
    ),
    "binary, 400": (
        400,
        b"\xff\xfe\x00{S}\x00",
        "application/octet-stream",
        0.0,
        "failed",
        "not JSON",
    ),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_from_composio_gives_a_clear_outcome_and_never_echoes_the_secret(
    stack: Stack, log_stream: io.StringIO, kind: str
) -> None:
    """Each odd answer, with the secret just sent written into it, against the real client over
    a real socket: the rotation returns (no crash) with the right result, the status and a
    readable error; the secret is in neither the outcome, the logs nor anything in Redis."""
    status, body, content_type, drip, result, text = GARBAGE[kind]
    secret = f"S3CR3T-garbage-{secrets.token_hex(8)}"
    stack.put("ac_junk", {"credentials": {"client_id": "cid", "client_secret": secret}})
    fault = Fault(
        status=status,
        body=body.replace(b"{S}", secret.encode()),
        content_type=content_type,
        drip=drip,
    )
    stack.emu.inject(fault, nanoid="ac_junk", times=None)
    outcome = stack.rt.service.rotate("ac_junk")
    assert (outcome.result, outcome.http_status) == (result, status), outcome
    assert outcome.error is not None and text in outcome.error, outcome.error
    assert f"Composio answered {status}" in outcome.error
    expected_tries = 1 if result == "failed" else stack.rt.settings.retry_in_call_attempts
    assert len(stack.emu.patches("ac_junk")) == expected_tries
    seen = "\n".join(
        [repr(outcome), log_stream.getvalue(), dump_redis(stack.env["ROTATOR_REDIS_URL"])]
    )
    assert "ac_junk" in seen and "rotation." in log_stream.getvalue()  # the capture captured
    assert secret not in seen
    assert COMPOSIO_KEY not in seen


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "body", [b"<html>ok {S}</html>", b'{"success": tr{S}', b"", b'["{S}"]'], ids=repr
)
def test_a_2xx_with_a_garbage_body_is_unverified_logged_as_unusable_without_the_secret(
    stack: Stack, log_stream: io.StringIO, body: bytes
) -> None:
    """A 200 whose body is HTML, cut off, empty or not an object is not a plain success: it is
    ``unverified`` (never recorded as applied) with a ``composio.unusable_body`` warning naming
    the body's kind only; the secret is echoed nowhere."""
    secret = f"S3CR3T-2xx-{secrets.token_hex(8)}"
    stack.put("ac_ok", {"credentials": {"client_secret": secret}})
    junk = body.replace(b"{S}", secret.encode())
    stack.emu.inject(Fault(status=200, body=junk, apply=True), nanoid="ac_ok", times=None)
    outcome = stack.rt.service.rotate("ac_ok")
    assert (outcome.result, outcome.http_status) == ("unverified", 200)
    assert outcome.error == "a 2xx whose body is not a JSON object"
    assert stack.rt.state.get_applied("ac_ok") is None
    if junk:
        [warning] = events(log_stream.getvalue(), "composio.unusable_body")
        assert warning["http_status"] == 200
    seen = "\n".join(
        [repr(outcome), log_stream.getvalue(), dump_redis(stack.env["ROTATOR_REDIS_URL"])]
    )
    assert secret not in seen


@pytest.mark.timeout(30)
def test_a_dripping_body_cannot_hold_a_rotation_past_the_composio_timeout(
    stack_env: dict[str, str], emu: Emulator, log_stream: io.StringIO
) -> None:
    """A 503 whose 640-byte body trickles in 8 bytes every 50 ms (4 s) against a 1 s timeout
    and one attempt: the call should give up within 2 s of starting."""
    env = {**stack_env, "ROTATOR_COMPOSIO_TIMEOUT": "1", "ROTATOR_RETRY_IN_CALL_ATTEMPTS": "1"}
    stack = build_stack(env, emu)
    try:
        stack.put("ac_drip", {"credentials": {"client_secret": "S3CR3T-drip"}})
        emu.inject(Fault(status=503, body=b"x" * 640, drip=0.05), nanoid="ac_drip", times=None)
        done: list[Outcome] = []
        worker = threading.Thread(target=lambda: done.append(stack.rt.service.rotate("ac_drip")))
        started = time.monotonic()
        worker.start()
        worker.join(timeout=2.0)
        took = time.monotonic() - started
        worker.join(timeout=20)  # let the drip end before the emulator and the client close
        assert done and done[0].result == "retry_later"
        assert took < 2.0, f"the call was still reading a dripping body after {took:.1f}s"
    finally:
        stack.rt.close()
