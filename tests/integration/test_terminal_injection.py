"""Untrusted text (a Vault key name, a Composio error message) reaches the terminal escaped:
rich markup is printed as itself, control characters as visible escapes; nothing crashes."""

from __future__ import annotations

import json

import pytest

from rotator.console.untrusted import markup, plain
from rotator.devkit.emulator import Fault
from tests.helpers import Stack
from tests.procs import assert_cli_ok, run_cli

FAILED_LINE = r"rotation\.failed"
HOSTILE_KEY = "[/red]\x1b[2J"
HOSTILE_MESSAGE = "bad [/red][bold]field\x1b]0;pwned\x07 \x1b[32mOK\x9b"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("[/red]\x1b[2J", "[/red]\\x1b[2J"),
        ("a\rb\nc\td\x7f\x85", "a\\x0db\\x0ac\\x09d\\x7f\\x85"),
        ("left\u202eright", "left\\u202eright"),
        ("plain text, ok", "plain text, ok"),
    ],
)
def test_plain_makes_every_control_character_visible(raw: str, shown: str) -> None:
    """C0, DEL, C1 and bidi overrides become escapes; printable text is unchanged."""
    assert plain(raw) == shown


def test_markup_escapes_rich_tags_so_they_print_as_themselves() -> None:
    """A closing tag that would raise MarkupError renders literally."""
    from rich.console import Console

    console = Console(width=80, record=True, color_system=None)
    console.print(markup("x [/red] y [bold]z"))
    assert console.export_text().strip() == "x [/red] y [bold]z"


def _hostile_stack(stack: Stack) -> None:
    """ac_mk1: a Vault key named with markup and ESC; ac_mk2: Composio answers a message with
    markup, an OSC title sequence and a colour code."""
    stack.put("ac_mk1", {HOSTILE_KEY: "x", "credentials": {"client_secret": "sec-mk1"}})
    stack.put("ac_mk2", {"credentials": {"client_secret": "sec-mk2"}})
    body = {"error": {"message": HOSTILE_MESSAGE, "slug": "AuthConfig_ValidationError"}}
    fault = Fault(status=400, body=json.dumps(body).encode(), content_type="application/json")
    stack.emu.inject(fault, nanoid="ac_mk2")


def _assert_escaped(out: str, *, whole: bool = True) -> None:
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "[/red]" in out or not whole  # the 80-column watch view may cut the text short


def test_hostile_text_is_printed_escaped_by_every_command(stack: Stack) -> None:
    """rotate, status, status --watch and dlq list print the hostile text escaped, exit as
    documented (rotate 1: two failures; the rest 0), and never crash."""
    _hostile_stack(stack)
    rotated = run_cli(stack.env, "rotate", "ac_mk1", "ac_mk2", "--inline")
    assert_cli_ok(rotated, 1, allowed=[FAILED_LINE])
    _assert_escaped(rotated.stdout)
    assert "ac_mk1" in rotated.stdout and "ac_mk2" in rotated.stdout
    assert "\\x1b" in rotated.stdout  # Composio's ESC, shown as an escape
    history = run_cli(stack.env, "history", "--json")
    assert_cli_ok(history)
    assert "\x1b" not in history.stdout and "[/red]" in history.stdout  # JSON escapes ESC
    for args in (("status",), ("dlq", "list"), ("history",)):
        res = run_cli({**stack.env, "COLUMNS": "200"}, *args)
        assert_cli_ok(res)
        _assert_escaped(res.stdout, whole=args != ("history",))  # history shows no message
        assert "ac_mk1" in res.stdout and "ac_mk2" in res.stdout
    watched = run_cli(stack.env, "status", "--watch", "--iterations", "1", "--interval", "0.1")
    assert_cli_ok(watched)
    _assert_escaped(watched.stdout, whole=False)
    assert "2 auth configs: 2 failed" in watched.stdout
