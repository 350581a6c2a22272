"""One Redis record rotator cannot parse stays with its auth config, against a real Redis.

A value that is not a number, a time that is not finite, text that is not UTF-8, or a key of
another type (WRONGTYPE) is read as absent for that auth config alone (a harmless re-push),
logged once per read as ``state.unreadable`` naming the key and the auth config (never the
value), and counted in ``sweep.completed``. The sweep, ``status`` and ``plan`` carry on for
every other config, and a real worker re-pushes the damaged one, which rewrites its records.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable

import pytest
import redis

from rotator.core.models import Brief, LastError
from rotator.core.states import ErrorKind
from rotator.state.store import Keys, StateStore
from rotator.worker.sweep import sweep
from tests.faults_support import events
from tests.helpers import Stack
from tests.procs import Procs, assert_cli_ok, run_cli, wait_until

Damage = Callable[[redis.Redis, str], str]  # damages one record of an auth config; its key


def _failures_text(r: redis.Redis, n: str) -> str:
    r.set(Keys.failures(n), "abc")
    return Keys.failures(n)


def _failures_arabic_digit(r: redis.Redis, n: str) -> str:
    r.set(Keys.failures(n), "\u0663")  # ARABIC-INDIC DIGIT THREE: int() would read 3
    return Keys.failures(n)


def _failures_a_hash(r: redis.Redis, n: str) -> str:
    r.delete(Keys.failures(n))
    r.hset(Keys.failures(n), "x", "1")
    return Keys.failures(n)


def _version_text(r: redis.Redis, n: str) -> str:
    r.hset(Keys.applied(n), "version", "abc")
    return Keys.applied(n)


def _applied_at(value: str) -> Damage:
    def damage(r: redis.Redis, n: str) -> str:
        r.hset(Keys.applied(n), "applied_at", value)
        return Keys.applied(n)

    damage.__name__ = f"applied_at_{value}"
    return damage


def _applied_a_list(r: redis.Redis, n: str) -> str:
    r.delete(Keys.applied(n))
    r.rpush(Keys.applied(n), "x")
    return Keys.applied(n)


def _created_not_utf8(r: redis.Redis, n: str) -> str:
    r.hset(Keys.applied(n), "vault_created", b"\xff\xfe2026")
    return Keys.applied(n)


def _error_message_not_utf8(r: redis.Redis, n: str) -> str:
    r.hset(Keys.last_error(n), mapping={"kind": "permanent", "message": b"bad \xff\xfe", "at": 1})
    return Keys.last_error(n)


def _error_version_text(r: redis.Redis, n: str) -> str:
    r.hset(Keys.last_error(n), mapping={"kind": "permanent", "vault_version": "x", "at": 1})
    return Keys.last_error(n)


def _error_a_string(r: redis.Redis, n: str) -> str:
    r.set(Keys.last_error(n), "permanent")
    return Keys.last_error(n)


DAMAGES: list[Damage] = [
    _failures_text,
    _failures_arabic_digit,
    _failures_a_hash,
    _version_text,
    _applied_at("nan"),
    _applied_at("inf"),
    _applied_at("1e400"),
    _applied_a_list,
    _created_not_utf8,
    _error_message_not_utf8,
    _error_version_text,
    _error_a_string,
]
IDS = [d.__name__.strip("_") for d in DAMAGES]
VALUES = re.compile(r"\b(abc|nan|inf|1e400)\b|\\u0663|\\ufffd|\\xff")  # in JSON text


def _good_state(store: StateStore, nanoid: str) -> None:
    """An applied v2 and a permanent failure of v3 counted twice: every record present."""
    store.redis.hset(
        Keys.applied(nanoid),
        mapping={"version": "2", "fingerprint": "f" * 16, "applied_at": "1000.5"},
    )
    err = LastError(ErrorKind.PERMANENT, "rejected", 2000.0, status=400, vault_version=3)
    store.record_error(nanoid, err, audit={"outcome": "failed"})
    store.record_error(nanoid, err, audit={"outcome": "failed"})


def _unreadable(log: io.StringIO) -> list[dict[str, object]]:
    return events(log.getvalue(), "state.unreadable")


@pytest.mark.parametrize("damage", DAMAGES, ids=IDS)
def test_an_unreadable_record_reads_as_absent_for_its_config_alone(
    redis_url: str, log_stream: io.StringIO, damage: Damage
) -> None:
    """The damaged record reads as absent (the others of that config as stored), the next
    config reads in full, in the sweep's read, `status`'s read and the single reads; each read
    logs ``state.unreadable`` once, naming the key and the auth config, never the value."""
    store = StateStore.from_url(redis_url)
    for nanoid in ("ac_bad", "ac_good"):
        _good_state(store, nanoid)
    raw = redis.Redis.from_url(redis_url)
    key = damage(raw, "ac_bad")
    briefs = store.briefs(["ac_bad", "ac_good"])
    stored = store.stored(["ac_bad", "ac_good"])
    assert briefs["ac_good"] == Brief(2, 1000.5, 2, 3)
    assert stored["ac_good"].applied is not None and stored["ac_good"].failures == 2
    assert stored["ac_good"].last_error is not None
    sweep_reads = damage is not _error_message_not_utf8  # the sweep never reads a message
    assert briefs["ac_bad"].unreadable is sweep_reads
    bad = stored["ac_bad"]
    if key == Keys.applied("ac_bad"):
        assert briefs["ac_bad"].applied_version is None and bad.applied is None
        assert store.get_applied("ac_bad") is None
        assert (briefs["ac_bad"].failures, bad.failures) == (2, 2)
    elif key == Keys.failures("ac_bad"):
        assert (briefs["ac_bad"].failures, bad.failures) == (0, 0)
        assert bad.applied is not None and bad.last_error is not None
        assert store.consecutive_failures("ac_bad") == 0
    else:
        assert bad.last_error is None and store.get_last_error("ac_bad") is None
        assert briefs["ac_bad"].error_version == (None if sweep_reads else 3)
        assert bad.applied is not None and bad.failures == 2
    found = _unreadable(log_stream)
    assert {(e["key"], e["auth_config_id"]) for e in found} == {(key, "ac_bad")}
    assert {e["level"] for e in found} == {"warning"}
    assert len(found) == 2 + sweep_reads  # once per read: briefs (if read), stored, the single
    for e in found:
        assert not VALUES.search(json.dumps(e)), e


def test_the_sweep_queues_the_others_and_re_pushes_the_damaged_one_counting_it(
    stack: Stack, log_stream: io.StringIO
) -> None:
    """With an applied state of another type (WRONGTYPE) and a failure count that is not a
    number, each for one config: the sweep queues the changed config, skips the one in step,
    queues the two damaged ones (re-push, forced when the applied state itself was read) and
    counts them in ``sweep.completed``."""
    ids = ["ac_w_list", "ac_w_count", "ac_w_moved", "ac_w_same"]
    for nanoid in ids:
        stack.put(nanoid, {"credentials": {"client_secret": f"sec-{nanoid}"}})
        stack.rt.service.rotate(nanoid)
    stack.write("ac_w_moved", {"credentials": {"client_secret": "sec-moved-2"}})
    raw = redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"])
    _applied_a_list(raw, "ac_w_list")
    _failures_text(raw, "ac_w_count")
    queued: list[tuple[str, bool]] = []
    summary = sweep(stack.rt, lambda i, force: queued.append((i, force)), queue_ttl=60)
    assert sorted(queued) == [("ac_w_count", True), ("ac_w_list", False), ("ac_w_moved", False)]
    assert (summary.checked, summary.skipped, summary.unreadable) == (4, 1, 2)
    [completed] = events(log_stream.getvalue(), "sweep.completed")
    assert completed["unreadable"] == 2 and completed["errors"] == 0


def test_a_real_worker_and_beat_re_push_damaged_configs_and_push_every_other(
    stack: Stack, procs: Procs
) -> None:
    """A worker and a beat on a Redis holding damaged records for four configs: every other
    config's new version is pushed, each damaged one is pushed again (its records rewritten,
    readable), no traceback or ERROR line, and ``state.unreadable`` names each key."""
    damaged = {
        "ac_e_version": _version_text,
        "ac_e_list": _applied_a_list,
        "ac_e_inf": _applied_at("inf"),
        "ac_e_count_msg": _failures_text,
    }
    healthy = [f"ac_e_ok{n}" for n in range(3)]
    for nanoid in [*damaged, *healthy]:
        stack.put(nanoid, {"credentials": {"client_secret": f"sec-{nanoid}"}})
        stack.rt.service.rotate(nanoid)
    raw = redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"])
    keys = {damage(raw, nanoid) for nanoid, damage in damaged.items()}
    _error_message_not_utf8(raw, "ac_e_count_msg")  # read by no service process: rewritten
    for nanoid in healthy:
        stack.write(nanoid, {"credentials": {"client_secret": f"sec-{nanoid}-2"}})
    procs.worker("w1", concurrency=4)
    procs.beat("b1")
    wait_until(
        "every healthy config's v2 pushed",
        lambda: all(stack.emu.credentials(n) == {"client_secret": f"sec-{n}-2"} for n in healthy),
        60,
    )
    wait_until(
        "every damaged config pushed again",
        lambda: all(len(stack.emu.patches(n)) == 2 for n in damaged),
        60,
    )
    wait_until(
        "every damaged config's records readable again",
        lambda: all(not b.unreadable for b in stack.rt.state.briefs(list(damaged)).values()),
        30,
    )
    for nanoid in damaged:
        applied = stack.rt.state.get_applied(nanoid)
        assert applied is not None and applied.version == 1
    assert raw.exists(Keys.last_error("ac_e_count_msg"), Keys.failures("ac_e_count_msg")) == 0
    seen = events(procs.output(), "state.unreadable")
    assert {e["key"] for e in seen} == keys
    assert any(e.get("unreadable", 0) >= 1 for e in events(procs.output(), "sweep.completed"))
    procs.assert_clean()


def test_status_and_plan_show_every_config_with_one_record_damaged(stack: Stack) -> None:
    """`status --json` and `plan --json` exit as usual with a row for every config: the
    damaged ones are pending and to push (a harmless re-push), the others as they are."""
    ids = ["ac_c_version", "ac_c_list", "ac_c_msg", "ac_c_count", "ac_c_same"]
    for nanoid in ids:
        stack.put(nanoid, {"credentials": {"client_secret": f"sec-{nanoid}"}})
        stack.rt.service.rotate(nanoid)
    raw = redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"])
    _version_text(raw, "ac_c_version")
    _applied_a_list(raw, "ac_c_list")
    _error_message_not_utf8(raw, "ac_c_msg")
    _failures_a_hash(raw, "ac_c_count")
    status = run_cli(stack.env, "status", "--json")
    assert_cli_ok(status)
    rows = {r["auth_config_id"]: r["state"] for r in json.loads(status.stdout)}
    assert rows == {
        "ac_c_version": "pending",
        "ac_c_list": "pending",
        "ac_c_msg": "synced",
        "ac_c_count": "synced",
        "ac_c_same": "synced",
    }
    assert "state.unreadable" in status.stderr and "\\xff" not in status.stderr
    plan = run_cli(stack.env, "plan", "--json")
    assert_cli_ok(plan)
    actions = {r["auth_config_id"]: r["action"] for r in json.loads(plan.stdout)}
    assert actions == {n: "push" if n in ("ac_c_version", "ac_c_list") else "skip" for n in ids}


def test_a_rotation_over_damaged_records_pushes_and_repairs_them(stack: Stack) -> None:
    """A rotation whose applied state is another type pushes (read as never applied) and
    rewrites it; a permanent failure over a count that is not a number counts from 1."""
    stack.put("ac_r_list", {"credentials": {"client_secret": "sec-r"}})
    stack.rt.service.rotate("ac_r_list")
    raw = redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"])
    _applied_a_list(raw, "ac_r_list")
    assert stack.rt.service.rotate("ac_r_list").result == "succeeded"
    applied = stack.rt.state.get_applied("ac_r_list")
    assert applied is not None and applied.version == 1 and len(stack.emu.patches()) == 2
    _failures_text(raw, "ac_r_list")
    err = LastError(ErrorKind.PERMANENT, "rejected", 1.0, vault_version=1)
    assert stack.rt.state.record_error("ac_r_list", err, audit={"outcome": "failed"}) == 1
    assert stack.rt.state.record_error("ac_r_list", err, audit={"outcome": "failed"}) == 2
    _failures_a_hash(raw, "ac_r_list")
    transient = LastError(ErrorKind.TRANSIENT, "later", 1.0)
    assert stack.rt.state.record_error("ac_r_list", transient, audit={"outcome": "retry"}) == 0
    assert stack.rt.state.consecutive_failures("ac_r_list") == 0


def test_dedupe_and_lock_keys_without_a_ttl_do_not_hold_a_config_for_ever(stack: Stack) -> None:
    """Every dedupe key and lock rotator sets expires; one that never does (set by hand, or of
    another type) is damaged: the sweep claims the config anyway and a rotation takes the lock."""
    stack.put("ac_k_q", {"credentials": {"client_secret": "sec-q"}})
    stack.put("ac_k_l", {"credentials": {"client_secret": "sec-l"}})
    raw = redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"])
    raw.set(Keys.queued("ac_k_q"), "1")
    raw.rpush(Keys.lock("ac_k_l"), "x")
    assert stack.rt.state.claim_queues(["ac_k_q"], ttl=60) == ["ac_k_q"]
    assert 0 < int(raw.pttl(Keys.queued("ac_k_q"))) <= 60_000
    assert stack.rt.service.rotate("ac_k_l").result == "succeeded"
    assert raw.exists(Keys.lock("ac_k_l")) == 0


def test_a_stream_entry_that_is_not_utf8_is_left_out_and_the_others_read(
    stack: Stack, log_stream: io.StringIO
) -> None:
    """An audit or dead-letter entry whose text is not UTF-8 is left out (logged, never
    quoted); `dlq list` and the audit readers show every other entry."""
    raw = redis.Redis.from_url(stack.env["ROTATOR_REDIS_URL"])
    for key in (Keys.dead_letter, Keys.audit):
        raw.xadd(key, {"auth_config_id": "ac_s1", "reason": "one"})
        raw.xadd(key, {"auth_config_id": "ac_s2", "reason": b"\xff\xfe"})
        raw.xadd(key, {"auth_config_id": "ac_s3", "reason": "three"})
    listed = run_cli(stack.env, "dlq", "list", "--json")
    assert_cli_ok(listed)
    assert [e["auth_config_id"] for e in json.loads(listed.stdout)] == ["ac_s1", "ac_s3"]
    state = stack.rt.state
    assert [e["auth_config_id"] for _, e in state.audit_newest()] == ["ac_s3", "ac_s1"]
    assert [e["auth_config_id"] for _, e in state.audit_events()] == ["ac_s1", "ac_s3"]
    assert [e["auth_config_id"] for _, e in state.audit_after("0", block_ms=0)] == [
        "ac_s1",
        "ac_s3",
    ]
    found = _unreadable(log_stream)
    assert {e["key"] for e in found} == {Keys.audit} and len(found) == 3
    assert all(not VALUES.search(json.dumps(e)) for e in found)
