"""The redaction processor, fuzzed: no registered secret escapes, however it is wrapped or
encoded, and no registered value, however common a word, blinds the structure of a line."""

from __future__ import annotations

import base64
import io
import json
import logging
import urllib.parse

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotator.observability import logs
from rotator.observability.logs import MASK, configure_logging, redact
from rotator.observability.redaction import LONG
from tests.redaction_support import echo_forms, registry

SECRET_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
secrets_st = st.text(SECRET_CHARS, min_size=LONG, max_size=40).filter(
    lambda s: s.strip() == s and s.lower() not in ("custom", "default")
)
noise = st.text(SECRET_CHARS, max_size=30)
STRUCTURAL = {"event", "level", "logger", "timestamp", "outcome", "reason", "request_id"}
keys_st = st.text(max_size=12).filter(lambda k: k not in STRUCTURAL | {"auth_config_id", "path"})


def _wrap(secret: str, how: int, before: str, after: str) -> object:
    """The secret placed somewhere a careless log call might put it."""
    url = f"https://user:{urllib.parse.quote(secret, safe='')}@host/x?k={secret}"
    shapes: list[object] = [
        f"{before}{secret}{after}",
        {"nested": {"deeper": [before, f"{secret}{after}"]}},
        [f"{before}{secret}", {"x": (after, secret)}],
        url,
        ValueError(f"boom {before}{secret}{after}"),
        {"headers": {"x-api-key": f"{secret}"}},
    ]
    return shapes[how % len(shapes)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=secrets_st, how=st.integers(0, 5), before=noise, after=noise, key=keys_st)
def test_registered_long_secret_never_survives_redaction(
    secret: str, how: int, before: str, after: str, key: str
) -> None:
    """A value of 16+ characters is cut out of strings, nested containers, URLs and exception
    objects, glued to other text or not, in every encoded form."""
    with registry(secret):
        event = {"event": f"x {secret}", key or "k": _wrap(secret, how, before, after)}
        out = redact(None, "info", event)
    rendered = json.dumps(out, default=str, ensure_ascii=False)
    assert secret not in rendered
    assert urllib.parse.quote(secret, safe="") not in rendered


@settings(max_examples=200, deadline=None)
@given(secret=secrets_st, before=noise, after=noise)
def test_every_encoded_form_of_a_long_secret_is_masked(
    secret: str, before: str, after: str
) -> None:
    """URL-encoded, JSON-escaped, base64 (both alphabets, padded or not), hex: none survives."""
    with registry(secret):
        for form in sorted(echo_forms(secret)):
            text = logs.scrub(f"{before}{form}{after}")
            assert form not in text, form


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=8, max_size=15),
    before=noise,
    after=noise,
)
def test_a_medium_secret_is_masked_on_token_boundaries_only(
    secret: str, before: str, after: str
) -> None:
    """8 to 15 characters: masked between non-word characters, left alone inside a word."""
    with registry(secret):
        assert secret not in logs.scrub(f"{before} {secret}, {after}")
        assert secret not in logs.scrub(f'{{"v": "{secret}"}}')
        assert logs.scrub(f"x{secret}y") == f"x{secret}y"


@pytest.mark.parametrize("short", ["a", "json", "failed", "S3cr3t!"])
def test_a_short_secret_masks_a_whole_field_but_not_other_text(short: str) -> None:
    """Under 8 characters: a field value equal to it is masked; no substring of text is."""
    text = "Content-Type: application/json; upload failed; a S3cr3t!x"
    with registry(short):
        out = redact(None, "info", {"event": "probe.line", "note": short, "text": text})
        assert out == {"event": "probe.line", "note": MASK, "text": text}
        assert logs.scrub(f" {short} ") == MASK


def test_common_words_as_secrets_do_not_blind_structural_fields() -> None:
    """Registered `rotation`, `failed`, `error`, `a`: event, level, logger, ids, paths, field
    names and outcome come through exactly as logged."""
    line = {
        "event": "rotation.failed",
        "level": "error",
        "logger": "rotator.rotation",
        "timestamp": "2026-12-01T10:00:00Z",
        "auth_config_id": "ac_rotation",
        "vault_path": "secret/composio/auth_configs/rotation/ac_rotation",
        "outcome": "failed",
        "reason": "retries exhausted (503 is transient; in-call attempts used up)",
        "request_id": "req_failed",
        "error_slug": "HTTP_BadRequest",
    }
    with registry("rotation", "failed", "error", "a", "HTTP_BadRequest", "rotation.failed"):
        assert redact(None, "error", dict(line)) == line


def test_a_structural_field_not_shaped_like_one_is_scrubbed() -> None:
    """A request_id or reason carrying free text (quotes, newlines) is scrubbed as any text."""
    secret = "Zq8-long-enough-secret-value"
    with registry(secret):
        out = redact(None, "info", {"event": f'lib "{secret}"', "reason": f'"{secret}"\n'})
    assert secret not in json.dumps(out)


def test_library_messages_are_scrubbed_even_when_shaped_like_an_event() -> None:
    """A stdlib record's message is free text: its dotted shape earns it no exemption."""
    secret = "zzsecret.value.longer.than16"
    with registry(secret):
        out = redact(None, "info", {"event": secret, "_from_structlog": False})
    assert out["event"] == MASK


@settings(max_examples=200, deadline=None)
@given(secret=secrets_st, head=st.binary(max_size=5), tail=st.binary(max_size=5))
def test_a_long_secret_inside_a_longer_base64_text_is_masked(
    secret: str, head: bytes, tail: bytes
) -> None:
    """Inside base64 of a longer blob (``user:SECRET``), at any byte alignment, all but at most
    four characters of the secret's encoding at each end are masked."""
    raw = secret.encode()
    blob = base64.b64encode(head + raw + tail).decode()
    with registry(secret):
        out = logs.scrub(blob)
    assert MASK in out
    assert len(out.replace(MASK, "")) <= len(blob) - (4 * len(raw)) // 3 + 4


def test_secret_in_an_exception_traceback_is_scrubbed_end_to_end() -> None:
    """A secret inside an exception logged with exc_info is scrubbed from the rendered line."""
    secret = "tb-S3CR3T-value-123"
    logs.SECRETS.register(secret)
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        raise RuntimeError(f"cannot use {secret} here")
    except RuntimeError:
        structlog.get_logger("t").exception("oops", detail={"token": secret})
        logging.getLogger("third.party").exception("lib says %s", secret)
    text = stream.getvalue()
    assert "RuntimeError" in text and "lib says" in text
    assert secret not in text and MASK in text


def test_secret_named_keys_are_masked_even_unregistered() -> None:
    """Values under secret-sounding keys are masked even when never registered."""
    out = redact(
        None,
        "info",
        {"event": "e", "api_key": "abc", "Authorization": "Bearer z", "client_secret": "q"},
    )
    assert out == {"event": "e", "api_key": MASK, "Authorization": MASK, "client_secret": MASK}


def test_a_common_word_as_a_secret_masks_the_word_not_longer_words() -> None:
    """`rotation` (8 characters) is masked in `rotation of`, not in `rotations`."""
    with registry("rotation"):
        assert logs.scrub("the rotation of keys") == f"the {MASK} of keys"
        assert logs.scrub("all rotations done") == "all rotations done"


def test_a_url_with_userinfo_in_a_path_field_is_scrubbed() -> None:
    """`path` is structural, but a value with `@` is not shaped like a path: it is scrubbed."""
    secret = "userinfo-secret-0123456789"
    with registry(secret):
        out = redact(None, "info", {"event": "probe.line", "path": f"https://u:{secret}@h/x"})
    assert out["path"] == f"https://u:{MASK}@h/x"


def test_json_output_masks_each_string_of_the_data_keys_and_short_secrets_too() -> None:
    """``print_json`` scrubs every distinct string of the data (not the printed text): a long
    secret inside a reason, a short secret that is a whole field, one used as a key, and a
    number that is a registered secret are all masked; everything else prints as it is."""
    from rotator.console.render import print_json

    long_secret, short_secret = "sk_live_9f8e7d6c5b4a39281706", "pin4711"
    for value in (long_secret, short_secret, "9876543210123"):
        logs.SECRETS.register(value)
    rows = [
        {"auth_config_id": "ac_j1", "reason": f"Vault said {long_secret}!", "version": 3},
        {"auth_config_id": "ac_j2", "reason": short_secret, long_secret: 9876543210123},
    ]
    out = io.StringIO()
    print_json(rows, out)
    printed = out.getvalue()
    assert long_secret not in printed and short_secret not in printed
    assert "9876543210123" not in printed
    back = json.loads(printed)
    assert back[0] == {"auth_config_id": "ac_j1", "reason": f"Vault said {MASK}!", "version": 3}
    assert back[1] == {"auth_config_id": "ac_j2", "reason": MASK, MASK: MASK}
