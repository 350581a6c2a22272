"""Composio echoing what it was sent: masked in every form, or dropped, where the answer is parsed.

These run ``parse_response`` on answers to a real ``httpx.Request`` (the values sent are read
from it, as the client does) or with ``sent=`` given; ``test_echo_leaks.py`` runs the same
classes end to end against the emulator.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from rotator.composio.parse import parse_response, sent_values
from rotator.observability.redaction import MASK
from tests.redaction_support import echo_forms

NOW = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
KEY = "ck_live_Echo_0123456789"
LONG = 'Pa55 w/rd+"é\\=:long-enough-01'  # every encoding differs from the value itself
MEDIUM = 'Pa55+w/"é=1'  # 11 characters: masked on token boundaries
SHAPED = "Echo_0123456789abcdef"  # would pass the slug and request-id shapes


def _answer(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    """An answer to a PATCH that carried ``KEY`` and the three values above."""
    creds = {"client_secret": LONG, "client_id": MEDIUM, "extra": SHAPED}
    request = httpx.Request(
        "PATCH",
        "https://composio.test/api/v3/auth_configs/ac_e1",
        headers={"x-api-key": KEY},
        content=json.dumps({"type": "custom", "credentials": creds}).encode(),
    )
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers or {}, request=request)


def _error(message: str, **extra: object) -> dict[str, object]:
    return {"error": {"message": message, "code": 10400, "status": 400, **extra}}


def test_the_values_sent_are_read_from_the_request() -> None:
    """The API key header and the credential values, not the type or other fields."""
    assert sorted(sent_values(_answer(400, {}).request)) == sorted([KEY, LONG, MEDIUM, SHAPED])


@pytest.mark.parametrize("secret", [LONG, MEDIUM, SHAPED, KEY], ids=["long", "medium", "id", "key"])
@pytest.mark.parametrize("where", ["message", "errors", "suggested_fix"])
def test_every_encoded_echo_is_masked_in_every_text_field(secret: str, where: str) -> None:
    """Exact, collapsed, URL, JSON-escaped, base64 (both alphabets, padded or not), hex."""
    for form in sorted(echo_forms(secret)):
        text = f"the value ({form}) is invalid"
        body = {
            "message": _error(text),
            "errors": _error("bad", errors=[text]),
            "suggested_fix": _error("bad", suggested_fix=text),
        }[where]
        info = parse_response(_answer(400, body), now=NOW)
        shown = f"{info.message} {info.suggested_fix}"
        assert form not in shown and MASK in shown, (where, form)


def test_a_value_with_runs_of_blanks_is_masked_before_and_after_collapsing() -> None:
    """Echoed as is, or already collapsed by Composio: masked either way, before our own
    collapsing could make a new form of it (the trim test in test_composio_client shows the
    masking comes first)."""
    secret = "two  spaces\tand\nnewline-0123456789"
    collapsed = " ".join(secret.split())
    for echo in (secret, collapsed):
        info = parse_response(_answer(400, _error(f"bad {echo} here")), now=NOW, sent=[secret])
        assert info.message == f"bad {MASK} here"


def test_a_short_value_is_masked_as_a_token_without_cutting_words() -> None:
    """A one-character value sent: `a` alone is masked, `application/json` is not cut."""
    text = "Content-Type must be application/json, value a rejected"
    info = parse_response(_answer(400, _error(text)), now=NOW, sent=["a"])
    assert info.message == f"Content-Type must be application/json, value {MASK} rejected"


@pytest.mark.parametrize(
    "echo", [SHAPED, f"req-{SHAPED}", f"{SHAPED}.1", KEY], ids=["equal", "prefix", "suffix", "key"]
)
def test_a_slug_or_request_id_holding_a_value_sent_is_dropped(echo: str) -> None:
    """In the header, in the body, or as the slug: an id carrying a value sent is not kept."""
    body = _error("bad", slug=echo if "_" in echo else "HTTP_BadRequest", request_id=echo)
    info = parse_response(_answer(400, body, {"x-request-id": echo}), now=NOW)
    assert info.request_id is None
    if "_" in echo:
        assert info.slug is None


@pytest.mark.parametrize(
    ("slug", "kept"),
    [
        ("HTTP_BadRequest", True),
        ("AuthConfig_ValidationError", True),
        ("Auth_Config_NotFound", True),
        ("Bad slug!<script>", False),
        ("noUnderscore", False),
        ("_Leading", False),
        ("HTTP_" + "x" * 64, False),
    ],
)
def test_a_slug_not_shaped_like_one_is_dropped(slug: str, kept: bool) -> None:
    """``Service_Name``, letters, digits and underscores, at most ~96 characters."""
    info = parse_response(_answer(400, _error("m", slug=slug)), now=NOW)
    assert info.slug == (slug if kept else None)


@pytest.mark.parametrize(
    ("rid", "kept"),
    [
        ("req_abc-123", True),
        ("3f2c1a9e-77b0-4c4e-9d7e-2a1b3c4d5e6f", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("req abc", False),
        ("req/abc", False),
        ("req\x7f", False),
    ],
)
def test_a_request_id_not_shaped_like_one_is_dropped(rid: str, kept: bool) -> None:
    """Letters, digits and ``._:-``, 1 to 128 characters; header first, then body."""
    info = parse_response(_answer(400, _error("m"), {"x-request-id": rid}), now=NOW)
    assert info.request_id == (rid if kept else None)
    info = parse_response(_answer(400, _error("m", request_id=rid)), now=NOW)
    assert info.request_id == (rid if kept else None)


def test_a_content_type_echoing_a_value_is_not_described() -> None:
    """The body description names the media type only when it is one and no echo."""
    info = parse_response(_answer(502, b"<html/>", {"content-type": f"text/{SHAPED}"}), now=NOW)
    assert info.message == "body is not JSON (no content type, 7 bytes)"
