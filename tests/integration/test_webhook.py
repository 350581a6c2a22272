"""The signed webhook against a real receiver of the test's own (http.server on loopback), a real
worker draining the outbox in Redis, real OpenBao and the emulator: the signature verifies, the
body has exactly the documented fields, a receiver that is down neither slows a rotation nor
loses its delivery, retries keep one idempotency key, and no delivered body holds a value."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotator.core.errors import ConfigError
from rotator.core.webhook import BODY_FIELDS
from rotator.devkit.emulator import Fault
from rotator.runtime import Runtime, build_runtime
from rotator.settings.load import load_settings
from tests.helpers import Stack
from tests.leakcheck import assert_no_leak, dump_all_dbs
from tests.procs import Procs, wait_until
from tests.webhook_support import Delivery, Receiver

KEY = "whsec-test-0123456789abcdef"
VALUES = ("sec-w1", "sec-w2", "sec-w3")


def _verifies(d: Delivery, key: str = KEY) -> bool:
    """What a receiver does: HMAC-SHA256 of the raw body, compared in constant time."""
    expected = "sha256=" + hmac.new(key.encode(), d.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, d.signature)


@pytest.fixture
def hook_env(stack: Stack, procs: Procs, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Webhook settings (a key file) for the worker and for this test's own runtime."""
    key_file = tmp_path / "webhook.key"
    key_file.write_text(KEY + "\n")
    receiver_port = Receiver().port
    env = {
        "ROTATOR_WEBHOOK_URL": f"http://127.0.0.1:{receiver_port}/hook",
        "ROTATOR_WEBHOOK_SECRET_FILE": str(key_file),
    }
    procs.env = {**procs.env, **env}
    yield {**stack.env, **env}


@pytest.fixture
def hook_rt(hook_env: dict[str, str]) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(hook_env))
    yield rt
    rt.close()


def _port(env: dict[str, str]) -> int:
    return int(env["ROTATOR_WEBHOOK_URL"].split(":")[2].split("/")[0])


def test_a_receiver_that_is_down_neither_slows_a_rotation_nor_loses_its_delivery(
    stack: Stack, procs: Procs, hook_env: dict[str, str], hook_rt: Runtime
) -> None:
    """The receiver's port accepts connections but never answers (a hung receiver: a POST made by
    the rotation would wait out its 10 s timeout). The rotation still takes well under a second;
    the worker's attempt times out and is retried; once the receiver is up, the delivery arrives,
    signed, with exactly the documented fields."""
    port = _port(hook_env)
    hung = socket.create_server(("127.0.0.1", port))  # listens, never accepts
    stack.put("ac_w1", {"credentials": {"client_secret": VALUES[0]}})
    procs.worker("w1")
    started = time.monotonic()
    outcome = hook_rt.service.rotate("ac_w1")
    took = time.monotonic() - started
    assert outcome.ok and took < 1.0, (outcome, took)
    wait_until(
        "the worker's attempt at the hung receiver timed out and was rescheduled",
        lambda: "webhook.retrying" in procs.output(),
        timeout=30,
    )
    hung.close()
    receiver = Receiver(port).start()
    try:
        wait_until("the delivery arrives", lambda: bool(receiver.delivered()), timeout=30)
    finally:
        receiver.stop()
    [d] = receiver.delivered()
    assert _verifies(d)
    body = json.loads(d.body)
    assert list(body) == list(BODY_FIELDS)
    assert body["event"] == "rotation.succeeded" and body["outcome"] == "succeeded"
    assert (body["auth_config_id"], body["project"], body["vault_version"]) == (
        "ac_w1",
        "default",
        1,
    )
    assert body["vault_path"] == f"secret/{stack.prefix}/ac_w1"
    assert body["http_status"] == 200 and body["request_id"] and body["slug"] is None
    assert body["at"].endswith("Z")
    print(d.body.decode())  # the README's example body (pytest -s)
    procs.assert_clean()


def test_retries_keep_one_delivery_key_and_no_body_holds_a_value(
    stack: Stack, procs: Procs, hook_env: dict[str, str], hook_rt: Runtime
) -> None:
    """The receiver answers 503 then 500, then 200: the same body arrives three times under one
    X-Rotator-Delivery key, each signed; a failed rotation is announced with its status and
    slug; no delivered body (nor Redis) holds any secret value in any encoding."""
    receiver = Receiver(_port(hook_env))
    receiver.answers.extend([503, 500])
    receiver.start()
    try:
        stack.put("ac_w2", {"credentials": {"client_secret": VALUES[1]}})
        stack.put("ac_w3", {"credentials": {"client_secret": VALUES[2]}})
        stack.emu.inject(Fault(status=400, slug="AuthConfig_ValidationError"), nanoid="ac_w3")
        procs.worker("w1")
        assert hook_rt.service.rotate("ac_w2").ok
        wait_until("ac_w2 delivered", lambda: len(receiver.delivered()) == 1, timeout=30)
        assert hook_rt.service.rotate("ac_w3").result == "failed"
        wait_until("ac_w3 delivered", lambda: len(receiver.delivered()) == 2, timeout=30)
    finally:
        receiver.stop()
    tries = receiver.all()
    assert [d.answered for d in tries][:2] == [503, 500] and len(tries) == 4
    first = tries[0]
    same = [d for d in tries if d.delivery == first.delivery]
    assert len(same) == 3 and {d.body for d in same} == {first.body}
    assert all(_verifies(d) for d in tries)
    bodies = {json.loads(d.body)["auth_config_id"]: json.loads(d.body) for d in tries}
    failed = bodies["ac_w3"]
    assert (failed["event"], failed["outcome"], failed["http_status"], failed["slug"]) == (
        "rotation.failed",
        "failed",
        400,
        "AuthConfig_ValidationError",
    )
    sources = {
        "webhook bodies": "\n".join(d.body.decode() for d in tries),
        "redis": dump_all_dbs(stack.env["ROTATOR_REDIS_URL"]),
        "worker": procs.output(),
    }
    markers = {"webhook bodies": "ac_w2", "redis": "ac_w2", "worker": "webhook.delivered"}
    assert_no_leak(sources, [*VALUES, KEY], markers)
    procs.assert_clean()


def test_the_key_can_come_from_vault_and_plain_http_only_reaches_loopback(
    stack: Stack, hook_env: dict[str, str]
) -> None:
    """ROTATOR_WEBHOOK_SECRET_PATH: field `secret` of a KV v2 path signs the delivery; a plain
    http:// URL off loopback is refused at start-up, naming the variable."""
    vault_key = "whsec-from-vault-abcdef"
    stack.rt.vault.write_secret("secret", f"{stack.prefix}-hook", {"secret": vault_key})
    env = {k: v for k, v in hook_env.items() if k != "ROTATOR_WEBHOOK_SECRET_FILE"}
    env["ROTATOR_WEBHOOK_SECRET_PATH"] = f"{stack.prefix}-hook"
    rt = build_runtime(load_settings(env))
    receiver = Receiver(_port(env)).start()
    try:
        sender = rt.webhook_sender()
        assert sender is not None
        assert sender.send("d-1", '{"event":"test"}') == 200
    finally:
        receiver.stop()
        rt.close()
    [d] = receiver.delivered()
    assert _verifies(d, vault_key) and not _verifies(d, KEY) and d.delivery == "d-1"
    with pytest.raises(ConfigError, match=r"ROTATOR_WEBHOOK_URL=.*use https://"):
        load_settings({**hook_env, "ROTATOR_WEBHOOK_URL": "http://example.com/hook"})


def test_an_overdue_credential_is_announced_once_a_day(
    stack: Stack, procs: Procs, hook_env: dict[str, str], hook_rt: Runtime
) -> None:
    """With ROTATOR_MAX_AGE=2s and a sweep every second, a real beat and worker log one
    `credential.overdue` and deliver one signed `credential.overdue` body, however many sweeps
    follow (the once-a-day claim in Redis)."""
    procs.env = {**procs.env, "ROTATOR_MAX_AGE": "2s", "ROTATOR_SWEEP_INTERVAL": "1"}
    receiver = Receiver(_port(hook_env)).start()
    try:
        stack.put("ac_o1", {"credentials": {"client_secret": VALUES[0]}})
        assert stack.rt.service.rotate("ac_o1").ok  # no webhook from this runtime
        procs.worker("w1")
        procs.beat("b1")
        wait_until("an overdue delivery", lambda: bool(receiver.delivered()), timeout=30)
        sweeps = procs.output().count("sweep.completed")
        wait_until(
            "three more sweeps", lambda: procs.output().count("sweep.completed") > sweeps + 3
        )
    finally:
        receiver.stop()
    [d] = receiver.all()
    body = json.loads(d.body)
    assert _verifies(d)
    assert (body["event"], body["outcome"], body["auth_config_id"]) == (
        "credential.overdue",
        "overdue",
        "ac_o1",
    )
    assert (body["http_status"], body["slug"], body["request_id"]) == (None, None, None)
    assert procs.output().count('"credential.overdue"') == 1
    procs.assert_clean()
