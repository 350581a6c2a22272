"""Untrusted text made safe for a terminal: the one helper every renderer uses.

Vault key names, Composio error messages, slugs and request ids are data from outside. Before any
of it reaches rich or a terminal it is scrubbed of secrets, every C0/C1 control character (ESC,
BEL, CR, backspace, ...) and every bidi override is shown as a visible ``\\xNN``/``\\uNNNN``
escape, and, for rich, markup brackets are escaped, so ``[/red]`` prints as itself and
``\\x1b[2J`` cannot clear the screen or draw a fake "OK".
"""

from __future__ import annotations

import re

from rotator.observability.logs import scrub

__all__ = ["markup", "plain"]

# C0 (tab and newline included: a cell or a line is one line), DEL, C1, and the Unicode
# direction controls that reorder what a terminal shows.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(value: object) -> str:
    """For click.echo and other plain output: scrubbed, control characters made visible."""
    if value is None:
        return ""
    return _CONTROLS.sub(_visible, scrub(str(value)))


def markup(value: object) -> str:
    """For a rich string that is parsed as markup: ``plain`` plus rich's markup escape."""
    from rich.markup import escape

    return escape(plain(value))
