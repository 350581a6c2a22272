"""End to end: Composio echoing a value just sent, in any encoding or as an id, persists nowhere,
and common words used as credential values do not blind the logs.

Real OpenBao, Redis and the emulator; `rotator status --json` and `rotator dlq list` run as
separate processes, which never read the values, so what they print is what Redis holds.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import urllib.parse
from collections.abc import Callable

from rotator.devkit.emulator import Fault
from tests.helpers import COMPOSIO_KEY, Stack
from tests.procs import run_cli
from tests.redaction_support import decoded, echo_forms, redis_texts

_B64 = (base64.b64encode, base64.urlsafe_b64encode)
ENCODINGS: dict[str, Callable[[str], str]] = {
    "exact": lambda s: s,
    "url": lambda s: urllib.parse.quote(s, safe=""),
    "url_plus": urllib.parse.quote_plus,
    "collapsed": lambda s: " ".join(s.split()),
    "json_ascii": lambda s: json.dumps(s)[1:-1],
    "json_utf8": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "b64": lambda s: _B64[0](s.encode()).decode(),
    "b64_unpadded": lambda s: _B64[0](s.encode()).decode().rstrip("="),
    "b64url": lambda s: _B64[1](s.encode()).decode(),
    "b64url_unpadded": lambda s: _B64[1](s.encode()).decode().rstrip("="),
    "b64_inside": lambda s: _B64[0](b"client:" + s.encode() + b"!").decode(),
    "hex": lambda s: s.encode().hex(),
    "HEX": lambda s: s.encode().hex().upper(),
}


def _special() -> str:
    """A value every encoding changes: blanks, quote, backslash, slash, plus, non-ASCII."""
    return f'Sp3c  "w/+x=é\\ {secrets.token_hex(6)}'


def _shaped() -> str:
    """A value that passes the slug and request-id shapes: only the echo check can drop it."""
    return f"Echo_{secrets.token_hex(8)}"


def _echo_body(text: str, **extra: object) -> bytes:
    error = {"message": f"invalid value {text}", "code": 10400, "slug": "HTTP_BadRequest"}
    error |= {"status": 400, "suggested_fix": f"replace {text}", "errors": [f"x: {text}"]}
    return json.dumps({"error": error | extra}).encode()


def _cases() -> dict[str, tuple[str, Fault]]:
    """nanoid -> (the value sent, the fault whose answer echoes it)."""
    cases: dict[str, tuple[str, Fault]] = {}
    for name, encode in ENCODINGS.items():
        value = _special()
        cases[f"ac_enc_{name}"] = (value, Fault(status=400, body=_echo_body(encode(value))))
    slug, rid, body_rid, holds, ok_rid = (_shaped() for _ in range(5))
    cases["ac_id_slug"] = (slug, Fault(status=400, slug=slug))
    only_header = {"status": 400, "body_shape": "code_only"}  # no request id of the emulator's
    cases["ac_id_header"] = (rid, Fault(**only_header, headers={"x-request-id": rid}))  # type: ignore[arg-type]
    cases["ac_id_holds"] = (holds, Fault(**only_header, headers={"x-request-id": f"req-{holds}"}))  # type: ignore[arg-type]
    # a second, unusable x-request-id makes the header useless: the body's request_id is read
    junk = {"x-request-id": "not an id"}
    cases["ac_id_body"] = (
        body_rid,
        Fault(status=400, body=_echo_body("x", request_id=body_rid), headers=junk),
    )
    applied = Fault(
        status=200,
        apply=True,
        body=b'{"success": true, "message": "updated"}',
        content_type="application/json",
        headers={"x-request-id": ok_rid},
    )
    cases["ac_id_applied"] = (ok_rid, applied)
    return cases


def test_echoed_values_persist_nowhere_in_any_encoding(
    stack: Stack, log_stream: io.StringIO, redis_url: str
) -> None:
    """Every text field and id echoing a value sent: no form of it in Redis, the logs, the
    outcomes, `status --json` or `dlq list` (the echo is masked or the id dropped)."""
    cases = _cases()
    for nanoid, (value, fault) in cases.items():
        stack.put(nanoid, {"credentials": {"client_secret": value}})
        stack.emu.inject(fault, nanoid=nanoid)
    stack.put("ac_key_slug", {"credentials": {"client_secret": "sec-key-slug-0123"}})
    stack.emu.inject(Fault(status=400, slug=COMPOSIO_KEY), nanoid="ac_key_slug")
    outcomes = {n: stack.rt.service.rotate(n) for n in [*cases, "ac_key_slug"]}
    assert outcomes.pop("ac_id_applied").result == "succeeded"
    assert {o.result for o in outcomes.values()} == {"failed"}
    assert stack.rt.state.get_applied("ac_id_applied") is not None
    status = run_cli(stack.env, "status", "--json")
    dlq = [run_cli(stack.env, "dlq", "list", *extra) for extra in ([], ["--json"])]
    printed = [status.stdout, status.stderr, *(r.stdout + r.stderr for r in dlq)]
    assert all("ac_enc_b64" in out for out in (status.stdout, dlq[0].stdout, dlq[1].stdout))
    assert "invalid value ***" in dlq[1].stdout  # the echo was masked, not the error dropped
    captured = "\n".join(  # decoded: JSON and repr would hide an echo behind escapes
        [
            decoded(log_stream.getvalue()),
            redis_texts(redis_url),
            *map(decoded, printed),
            *(
                f"{o.error} {o.suggested_fix} {o.error_slug} {o.request_id}"
                for o in outcomes.values()
            ),
        ]
    )
    assert "ac_enc_json_utf8" in captured and "invalid value ***" in captured
    leaked = [(n, f) for n, (v, _) in cases.items() for f in echo_forms(v) if f in captured]
    assert leaked == [], f"{len(leaked)} echoes persisted"
    assert COMPOSIO_KEY not in captured


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_common_words_as_credential_values_do_not_blind_later_lines(
    stack: Stack, log_stream: io.StringIO
) -> None:
    """After rotating values `rotation`, `failed` and `a`, another config's failure still logs
    `event == "rotation.failed"` with its ids, path and outcome, and `application/json`."""
    words = {"client_id": "rotation", "client_secret": "failed", "scope_sep": "a"}
    stack.put("ac_words", {"credentials": words})
    assert stack.rt.service.rotate("ac_words").result == "succeeded"
    stack.put("ac_victim", {"credentials": {"client_secret": "sec-victim-0123456"}})
    message = {"error": {"message": "Content-Type must be application/json", "status": 400}}
    stack.emu.inject(Fault(status=400, body=json.dumps(message).encode()), nanoid="ac_victim")
    assert stack.rt.service.rotate("ac_victim").result == "failed"
    lines = _lines(log_stream)
    [failed] = [
        e for e in lines if e.get("auth_config_id") == "ac_victim" and e["level"] == "error"
    ]
    assert failed["event"] == "rotation.failed" and failed["outcome"] == "failed"
    assert failed["logger"] == "rotator.rotation" and failed["level"] == "error"
    assert failed["vault_path"] == f"secret/{stack.prefix}/ac_victim"
    assert "Content-Type must be application/json" in str(failed["error"])
    assert not [e for e in lines if "*" in str(e["event"]) or "*" in "".join(map(str, e))]
    words_events = {e["event"] for e in lines if e.get("auth_config_id") == "ac_words"}
    assert "rotation.succeeded" in words_events
