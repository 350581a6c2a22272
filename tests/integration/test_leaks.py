"""No secret value ever shows up in logs, exceptions, reprs, outcomes, Redis, or the output of
any worker, beat or CLI process: searched exact, URL-encoded, JSON-escaped and base64."""

from __future__ import annotations

import io
import json
import secrets

from rotator.devkit.emulator import Fault
from tests.helpers import COMPOSIO_KEY, Stack
from tests.leakcheck import assert_no_leak, dump_all_dbs
from tests.procs import Procs, assert_cli_ok, run_cli, wait_until


def _seed(stack: Stack) -> dict[str, str]:
    """Successes, retries, a Composio error echoing the secret, and malformed secrets."""
    values = {name: f"S3CR3T-{name}-{secrets.token_hex(8)}" for name in "abcdefg"}
    stack.put("ac_ok1", {"credentials": {"client_id": "visible-id", "client_secret": values["a"]}})
    stack.put("ac_ok2", {"credentials.api_key": values["b"], "shared_credentials.x": values["c"]})
    stack.put("ac_echo", {"credentials": {"client_secret": values["d"]}})
    stack.put("ac_bad", {"credentials": {"client_secret": [values["e"]], "other": values["f"]}})
    stack.put("ac_retry", {"credentials": {"client_secret": values["g"]}})
    echo = json.dumps(
        {
            "error": {
                "message": f"invalid secret {values['d']}",
                "code": 10400,
                "slug": "HTTP_BadRequest",
                "status": 400,
            }
        }
    ).encode()
    stack.emu.inject(Fault(status=400, body=echo), nanoid="ac_echo")
    stack.emu.inject(Fault(status=503), nanoid="ac_retry", times=2)
    return values


def _secrets(stack: Stack, values: dict[str, str]) -> list[str]:
    env = stack.env
    return [*values.values(), COMPOSIO_KEY, env["VAULT_TOKEN"], env["ROTATOR_FINGERPRINT_KEY"]]


def test_secret_values_never_escape(stack: Stack, log_stream: io.StringIO, redis_url: str) -> None:
    """In process: successes, retries, an echoed secret, malformed secrets, a new version and a
    rollback: the logs, every Redis key and value, and the outcomes (reprs and errors) hold no
    secret in any encoding."""
    values = _seed(stack)
    outcomes = [stack.rt.service.rotate(i) for i in ("ac_ok1", "ac_ok2", "ac_echo", "ac_bad")]
    outcomes.append(stack.rt.service.rotate("ac_retry"))
    stack.write("ac_ok1", {"credentials": {"client_secret": values["a"] + "-v2"}})
    outcomes.append(stack.rt.service.rotate("ac_ok1"))
    outcomes.append(stack.rt.service.rotate("ac_ok1", version=1))
    assert [o.result for o in outcomes] == ["succeeded", "succeeded", "failed", "failed"] + [
        "succeeded"
    ] * 3
    sources = {
        "logs": log_stream.getvalue(),
        "redis": dump_all_dbs(redis_url),
        "outcomes": "\n".join([*map(repr, outcomes), *(str(o.error) for o in outcomes)]),
    }
    markers = {"logs": "rotation.succeeded", "redis": "ac_ok1", "outcomes": "ac_echo"}
    assert_no_leak(sources, _secrets(stack, values), markers)
    assert "invalid secret ***" in sources["outcomes"]  # Composio's echo was scrubbed, not dropped


def test_worker_beat_and_cli_output_never_hold_a_secret(
    stack: Stack, procs: Procs, celery_env: dict[str, str], redis_url: str
) -> None:
    """The same configs rotated by a real beat and worker, then through the CLI (a queued
    forced rotation, inline, status, plan, dlq list, check): the worker's and the beat's whole
    output, every CLI run's stdout and stderr and a full Redis dump hold no secret in any
    encoding, and each shows it saw the run."""
    values = _seed(stack)
    procs.worker("w1", concurrency=2)
    procs.beat("b1")
    wait_until(
        "the beat's sweep rotated every good config",
        lambda: all(stack.rt.state.get_applied(i) for i in ("ac_ok1", "ac_ok2", "ac_retry")),
        60,
    )
    wait_until("the echo dead-lettered", lambda: bool(stack.rt.state.dead_letters()), 30)
    runs = [
        (0, "rotate", "ac_ok1", "ac_echo", "--force", "--wait", "--json"),
        (1, "rotate", "--all", "--inline"),
        (0, "status", "--json"),
        (1, "plan", "--json"),
        (0, "dlq", "list", "--json"),
        (0, "check"),
    ]
    cli = []
    for code, *args in runs:
        res = run_cli(celery_env, *map(str, args))
        assert_cli_ok(res, int(code), allowed=[r"rotation\.failed"])
        cli.append(f"$ rotator {' '.join(map(str, args))}\n{res.stdout}\n{res.stderr}")
    procs.assert_clean(allowed=[r'"event": "rotation\.failed"'])
    worker_log, beat_log = (log.read_text(errors="replace") for log in procs.logs)
    sources = {
        "worker": worker_log,
        "beat": beat_log,
        "cli": "\n".join(cli),
        "redis": dump_all_dbs(redis_url),
    }
    markers = {"worker": "ac_ok1", "beat": "rotator-sweep", "cli": "ac_echo", "redis": "ac_ok1"}
    assert_no_leak(sources, _secrets(stack, values), markers)
    assert "invalid secret ***" in worker_log  # the echo reached the worker, scrubbed
