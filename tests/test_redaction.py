"""The redaction processor, fuzzed: no registered secret escapes, however it is wrapped."""

from __future__ import annotations

import io
import json
import logging
import urllib.parse

import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotator.logs import MASK, SecretRegistry, configure_logging, redact

SECRET_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
secrets_st = st.text(SECRET_CHARS, min_size=6, max_size=40).filter(
    lambda s: s.strip() == s and s.lower() not in ("custom", "default")
)
noise = st.text(SECRET_CHARS, max_size=30)


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
@given(
    secret=secrets_st, how=st.integers(0, 5), before=noise, after=noise, key=st.text(max_size=12)
)
def test_registered_secret_never_survives_redaction(
    secret: str, how: int, before: str, after: str, key: str
) -> None:
    """Strings, nested containers, URLs, exception objects: the value is always cut out."""
    from rotator import logs

    registry = SecretRegistry()
    registry.register(secret)
    original = logs.SECRETS
    logs.SECRETS = registry
    try:
        event = {"event": f"x {secret}", key or "k": _wrap(secret, how, before, after)}
        out = redact(None, "info", event)
    finally:
        logs.SECRETS = original
    rendered = json.dumps(out, default=str, ensure_ascii=False)
    assert secret not in rendered
    assert urllib.parse.quote(secret, safe="") not in rendered


def test_secret_in_an_exception_traceback_is_scrubbed_end_to_end() -> None:
    """A secret inside an exception logged with exc_info is scrubbed from the rendered line."""
    from rotator import logs

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
