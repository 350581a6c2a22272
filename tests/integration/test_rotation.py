"""End to end, in process: real OpenBao, real Redis, the Composio emulator over real sockets."""

from __future__ import annotations

import hashlib
import threading
import time

import redis

from rotator.devkit.emulator import Fault
from rotator.runtime import Runtime
from rotator.state.scripts import BEGIN_LUA, RECORD_LUA
from rotator.state.store import Keys
from tests.helpers import Stack


def test_rotation_pushes_exactly_vaults_values(stack: Stack) -> None:
    """A new auth config is pushed once and Composio then holds exactly Vault's values."""
    stack.put("ac_gh1", {"credentials": {"client_id": "cid", "client_secret": "sec-A1b2C3"}})
    out = stack.rt.service.rotate("ac_gh1")
    assert out.result == "succeeded" and out.vault_version == 1 and out.http_status == 200
    assert stack.emu.credentials("ac_gh1") == {"client_id": "cid", "client_secret": "sec-A1b2C3"}
    assert len(stack.emu.patches("ac_gh1")) == 1
    applied = stack.rt.state.get_applied("ac_gh1")
    assert applied is not None and applied.version == 1 and applied.request_id == out.request_id


def test_unchanged_secret_is_skipped_with_zero_patches(stack: Stack) -> None:
    """A second rotation with nothing new in Vault sends no PATCH at all."""
    stack.put("ac_gh2", {"credentials": {"client_secret": "sec-unchanged"}})
    assert stack.rt.service.rotate("ac_gh2").result == "succeeded"
    out = stack.rt.service.rotate("ac_gh2")
    assert out.result == "skipped" and "in step at version 1" in out.reason
    assert len(stack.emu.patches("ac_gh2")) == 1


def test_new_vault_version_is_pushed(stack: Stack) -> None:
    """Writing a new version in Vault makes the next rotation push it."""
    stack.put("ac_gh3", {"credentials": {"client_secret": "sec-v1"}})
    stack.rt.service.rotate("ac_gh3")
    stack.write("ac_gh3", {"credentials": {"client_secret": "sec-v2"}})
    out = stack.rt.service.rotate("ac_gh3")
    assert out.result == "succeeded" and out.vault_version == 2
    assert "vault version changed: 1 -> 2" in out.reason
    assert stack.emu.credentials("ac_gh3")["client_secret"] == "sec-v2"


def test_version_rollback_pushes_the_old_values(stack: Stack) -> None:
    """rotate(version=1) pushes version 1's values even though version 2 is current."""
    stack.put("ac_gh4", {"credentials": {"client_secret": "sec-old"}})
    stack.write("ac_gh4", {"credentials": {"client_secret": "sec-new"}})
    assert stack.rt.service.rotate("ac_gh4").vault_version == 2
    out = stack.rt.service.rotate("ac_gh4", version=1)
    assert out.result == "succeeded" and out.vault_version == 1 and "rollback" in out.reason
    assert stack.emu.credentials("ac_gh4")["client_secret"] == "sec-old"


def test_503_503_200_succeeds_on_the_third_attempt(stack: Stack) -> None:
    """Two 503s are retried inside the call; the third attempt succeeds."""
    stack.put("ac_r1", {"credentials": {"client_secret": "sec-r1"}})
    stack.emu.inject(Fault(status=503), nanoid="ac_r1", times=2)
    out = stack.rt.service.rotate("ac_r1")
    assert out.result == "succeeded" and out.attempts == 3
    assert [p.status for p in stack.emu.patches("ac_r1")] == [503, 503, 200]


def test_429_with_retry_after_waits_at_least_that_long(stack: Stack) -> None:
    """A 429 with Retry-After: 1 is retried no sooner than one second later."""
    stack.put("ac_r2", {"credentials": {"client_secret": "sec-r2"}})
    stack.emu.inject(Fault(status=429, retry_after="1"), nanoid="ac_r2", times=1)
    started = time.monotonic()
    out = stack.rt.service.rotate("ac_r2")
    assert out.result == "succeeded"
    patches = stack.emu.patches("ac_r2")
    assert [p.status for p in patches] == [429, 200]
    assert patches[1].time - patches[0].time >= 1.0
    assert time.monotonic() - started >= 1.0


def test_400_is_one_attempt_and_a_dead_letter(stack: Stack) -> None:
    """A 400 is never retried; the dead letter records status, slug and request id."""
    stack.put("ac_r3", {"credentials": {"client_secret": "sec-r3"}})
    stack.emu.inject(Fault(status=400, slug="AuthConfig_ValidationError"), nanoid="ac_r3")
    out = stack.rt.service.rotate("ac_r3")
    assert out.result == "failed" and out.http_status == 400
    assert out.error_slug == "AuthConfig_ValidationError" and out.request_id
    assert len(stack.emu.patches("ac_r3")) == 1
    [(_, entry)] = stack.rt.state.dead_letters()
    assert entry["auth_config_id"] == "ac_r3" and entry["http_status"] == "400"
    assert entry["error_slug"] == "AuthConfig_ValidationError"
    assert entry["request_id"] == out.request_id
    assert stack.rt.state.get_applied("ac_r3") is None


def test_404_unknown_auth_config_fails(stack: Stack) -> None:
    """An auth config Composio does not know is a permanent failure with status 404."""
    stack.put("ac_gone", {"credentials": {"client_secret": "sec-404"}}, in_composio=False)
    out = stack.rt.service.rotate("ac_gone")
    assert out.result == "failed" and out.http_status == 404
    assert len(stack.emu.patches("ac_gone")) == 1


def test_transient_failure_past_the_in_call_budget_is_retry_later(stack: Stack) -> None:
    """A long Retry-After is handed back as retry_later (the countdown honours it); nothing is
    recorded as applied."""
    stack.put("ac_r4", {"credentials": {"client_secret": "sec-r4"}})
    stack.emu.inject(Fault(status=429, retry_after="120"), nanoid="ac_r4")
    out = stack.rt.service.rotate("ac_r4")
    assert out.result == "retry_later" and out.server_wait == 120
    assert out.retry_in is not None and out.retry_in >= 120
    assert stack.rt.state.get_applied("ac_r4") is None
    assert stack.rt.state.dead_letters() == []


def test_malformed_secrets_fail_clearly_while_others_succeed(stack: Stack) -> None:
    """Each malformed secret fails naming its path and field; the good one still succeeds."""
    bad: dict[str, dict[str, object]] = {
        "ac_bad1": {"credentials": "not-an-object"},
        "ac_bad2": {"type": "custom"},
        "ac_bad3": {"credentials": {"client_secret": 42}},
        "ac_bad4": {"credentials": {}},
    }
    for nanoid, data in bad.items():
        stack.put(nanoid, data)
    stack.put("ac_good", {"credentials": {"client_secret": "sec-good"}})
    outcomes = {i: stack.rt.service.rotate(i) for i in [*bad, "ac_good"]}
    assert outcomes["ac_good"].result == "succeeded"
    assert "credentials must be an object, got str" in (outcomes["ac_bad1"].error or "")
    assert "neither credentials nor shared_credentials" in (outcomes["ac_bad2"].error or "")
    assert "credentials.client_secret must be a string, got int" in (
        outcomes["ac_bad3"].error or ""
    )
    assert "credentials is an empty object" in (outcomes["ac_bad4"].error or "")
    for nanoid in bad:
        assert outcomes[nanoid].result == "failed"
        assert f"{stack.prefix}/{nanoid}" in (outcomes[nanoid].error or "")
        assert stack.emu.patches(nanoid) == []


def test_vault_unreachable_is_transient_and_records_nothing(
    stack: Stack, unreachable_vault_runtime: Runtime
) -> None:
    """With Vault down the rotation is retry_later and no applied state is written."""
    rt = unreachable_vault_runtime
    out = rt.service.rotate("ac_any1")
    assert out.result == "retry_later" and out.reason == "VaultUnavailable"
    assert rt.state.get_applied("ac_any1") is None
    assert rt.state.dead_letters() == []


def test_wiped_redis_state_causes_only_a_harmless_repush(stack: Stack, redis_url: str) -> None:
    """After FLUSHALL the next rotation pushes the same values again, once."""
    stack.put("ac_w1", {"credentials": {"client_secret": "sec-w1"}})
    stack.rt.service.rotate("ac_w1")
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()
    out = stack.rt.service.rotate("ac_w1")
    assert out.result == "succeeded" and "never applied" in out.reason
    assert stack.emu.credentials("ac_w1") == {"client_secret": "sec-w1"}
    assert len(stack.emu.patches("ac_w1")) == 2
    assert stack.rt.service.rotate("ac_w1").result == "skipped"


def test_concurrent_rotations_of_one_config_patch_once(stack: Stack) -> None:
    """Two processes' worth of threads racing on one auth config: the lock lets one PATCH."""
    stack.put("ac_l1", {"credentials": {"client_secret": "sec-l1"}})
    stack.emu.inject(Fault(delay=0.5), nanoid="ac_l1", times=1)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(stack.rt.service.rotate("ac_l1").result))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["retry_later", "succeeded"]
    assert len(stack.emu.patches("ac_l1")) == 1
    assert stack.rt.state.redis.exists(Keys.lock("ac_l1")) == 0


def test_api_key_from_vault_is_reread_after_401(
    stack: Stack, key_in_vault_runtime: Runtime
) -> None:
    """When Composio's key rotates in Vault, a 401 makes rotator re-read it and succeed."""
    rt = key_in_vault_runtime
    stack.put("ac_k1", {"credentials": {"client_secret": "sec-k1"}})
    stack.put("ac_k2", {"credentials": {"client_secret": "sec-k2"}})
    assert rt.service.rotate("ac_k1").result == "succeeded"
    stack.rt.vault.write_secret("secret", stack.key_path, {"api_key": "ck_second_key"})
    stack.emu.set_api_keys(["ck_second_key"])
    out = rt.service.rotate("ac_k2")
    assert out.result == "succeeded" and out.attempts == 2
    assert [p.status for p in stack.emu.patches("ac_k2")] == [401, 200]


def test_shared_credentials_and_default_type_reach_composio(stack: Stack) -> None:
    """A default-type secret pushes shared_credentials only, with type default."""
    stack.put("ac_d1", {"type": "default", "shared_credentials": {"api_key": "sk-d1"}})
    assert stack.rt.service.rotate("ac_d1").result == "succeeded"
    assert stack.emu.shared_credentials("ac_d1") == {"api_key": "sk-d1"}
    assert stack.emu.patches("ac_d1")[0].fields == {"shared_credentials": ["api_key"]}


def test_a_rotation_reads_the_breaker_with_its_first_round_trip_not_after_it(
    stack: Stack,
) -> None:
    """The breaker comes with ``begin``'s pipeline: a rotation in step sends two GETs in all
    (the breaker's, in that pipeline, and the one in the lock-release script), none of its own
    for the breaker."""
    stack.put("ac_gh9", {"credentials": {"client_secret": "sec-rt"}})
    assert stack.rt.service.rotate("ac_gh9").result == "succeeded"
    r = stack.rt.state.redis

    def gets() -> int:
        return int(r.info("commandstats").get("cmdstat_get", {}).get("calls", 0))

    before = gets()
    assert stack.rt.service.rotate("ac_gh9").result == "skipped"
    assert gets() - before == 2


def _sha(script: str) -> str:
    """The SHA1 Redis names a script by (EVALSHA)."""
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


def test_a_fast_rotation_pushes_without_renewing_the_lock_it_just_took(stack: Stack) -> None:
    """The lock renew before the PATCH is skipped while the lock is younger than a third of its
    TTL (it then has at least two thirds left, and the keeper thread renews it): a quick push
    sends no script for its lock key but rotator's own two, begin's (which takes it) and the
    record's (which releases it); redis-py's renew would be an EVALSHA of its own script. Every
    command is read back from the slow log."""
    stack.put("ac_gh8", {"credentials": {"client_secret": "sec-renew"}})
    r = stack.rt.state.redis
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.slowlog_reset()
        assert stack.rt.service.rotate("ac_gh8").result == "succeeded"
        sent = [bytes(e["command"]).decode(errors="replace") for e in r.slowlog_get(1000)]
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
    on_lock = [c.split()[:2] for c in sent if Keys.lock("ac_gh8") in c]
    scripts = {args[1] for args in on_lock if args[0].upper() in ("EVALSHA", "EVAL")}
    ours = {
        hashlib.sha1(s.encode(), usedforsecurity=False).hexdigest() for s in (BEGIN_LUA, RECORD_LUA)
    }
    assert scripts == ours, on_lock  # taken in begin, released once with the record
    assert "PEXPIRE" not in [args[0].upper() for args in on_lock], on_lock
