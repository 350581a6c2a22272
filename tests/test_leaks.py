"""No secret value ever shows up in logs, exceptions, reprs, outcomes or Redis."""

from __future__ import annotations

import io
import json
import secrets

from rotator.emulator import Fault
from tests.faults_support import dump_redis
from tests.helpers import COMPOSIO_KEY, Stack


def test_secret_values_never_escape(stack: Stack, log_stream: io.StringIO, redis_url: str) -> None:
    """Successes, retries, a Composio error echoing the secret, and malformed secrets: zero hits."""
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
    outcomes = [stack.rt.service.rotate(i) for i in ("ac_ok1", "ac_ok2", "ac_echo", "ac_bad")]
    outcomes.append(stack.rt.service.rotate("ac_retry"))
    stack.write("ac_ok1", {"credentials": {"client_secret": values["a"] + "-v2"}})
    outcomes.append(stack.rt.service.rotate("ac_ok1"))
    outcomes.append(stack.rt.service.rotate("ac_ok1", version=1))
    assert [o.result for o in outcomes] == ["succeeded", "succeeded", "failed", "failed"] + [
        "succeeded"
    ] * 3
    captured = "\n".join(
        [
            log_stream.getvalue(),
            dump_redis(redis_url),
            *map(repr, outcomes),
            *(str(o.error) for o in outcomes),
        ]
    )
    assert "rotation.succeeded" in log_stream.getvalue()  # the capture really captured
    fingerprint_key = stack.env["ROTATOR_FINGERPRINT_KEY"]
    for value in [*values.values(), COMPOSIO_KEY, stack.env["VAULT_TOKEN"], fingerprint_key]:
        assert value not in captured, f"a secret value leaked ({value[:10]}...)"
    assert "invalid secret ***" in captured  # Composio's echo was scrubbed, not dropped
