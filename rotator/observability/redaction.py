"""How a secret value may be echoed, and how it is masked without blinding the text around it.

The rule, by the value's length (see the README's Logs section):

- shorter than ``SHORT`` (8) characters: too short to be cut out of other text (a one-character
  value would turn ``application/json`` into ``***pplic***tion/json``). The log registry masks
  such a value only where it is a whole field value; an echo of a value just sent to Composio
  is masked where it stands as a token of its own.
- ``SHORT`` up to ``LONG`` (16) characters: masked where it stands on token boundaries (not
  preceded or followed by a letter, digit or ``_``), so a common word used as a secret
  (``rotation``) does not mask ``rotations``.
- ``LONG`` characters or more: masked wherever it occurs.

``forms`` lists what a value looks like after the usual encodings: exact, whitespace
collapsed, URL-encoded, JSON-escaped, base64 (standard and URL-safe, padded or not, also at
the two other byte alignments inside a longer base64 text) and hex. Encoded forms are masked
wherever they occur, but only when at least ``SHORT`` characters long.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["LONG", "MASK", "SHORT", "Echoes", "bounded", "forms", "mask"]

MASK = "***"
SHORT = 8
LONG = 16
_B64: tuple[Callable[[bytes], bytes], ...] = (base64.b64encode, base64.urlsafe_b64encode)


def _literal(value: str) -> set[str]:
    collapsed = " ".join(value.split())
    return {
        value,
        collapsed,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    } - {""}


def _base64(raw: bytes) -> set[str]:
    """What stays the same of the value's base64 at byte offsets 0, 1 and 2 of a longer text:
    masking it breaks the padded and unpadded encodings of the value alone, too."""
    out: set[str] = set()
    for encode in _B64:
        for pad, skip in ((0, 0), (1, 2), (2, 3)):
            text = encode(b"\0" * pad + raw).decode().rstrip("=")
            tail = 1 if (pad + len(raw)) % 3 else 0
            out.add(text[skip : len(text) - tail])
    return out


def _encoded(value: str) -> set[str]:
    raw = value.encode("utf-8", "surrogatepass")
    hexed = binascii.hexlify(raw).decode()
    return {f for f in {*_base64(raw), hexed, hexed.upper()} if len(f) >= SHORT}


@functools.lru_cache(maxsize=4096)
def forms(value: str) -> tuple[frozenset[str], frozenset[str]]:
    """``(literal, encoded)``: the value as text (exact, collapsed, URL, JSON) and encoded.

    Cached (the most recent 4,096 values): a rotation registers its values for the logs, then
    masks their echoes in Composio's answer; each value's forms are computed once. The cache
    holds what the log registry holds already: the secrets this process has read."""
    literal = frozenset(f for f in _literal(value) if f not in MASK)
    return literal, frozenset(_encoded(value) - literal)


def bounded(value: str) -> bool:
    """Whether ``value`` (as registered, not encoded) is matched on token boundaries only."""
    return len(value) < LONG


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _replace_bounded(text: str, form: str) -> str:
    """Replace ``form`` where it is not glued to a word character on an edge it would glue."""
    left, right = _word(form[0]), _word(form[-1])
    out: list[str] = []
    start = pos = 0
    while (pos := text.find(form, pos)) >= 0:
        end = pos + len(form)
        glued = (left and pos > 0 and _word(text[pos - 1])) or (
            right and end < len(text) and _word(text[end])
        )
        if glued:
            pos += 1
            continue
        out += [text[start:pos], MASK]
        start = pos = end
    return "".join(out) + text[start:] if out else text


def mask(text: str, anywhere: Iterable[str], on_boundaries: Iterable[str] = ()) -> str:
    """``text`` with each form replaced by ``MASK``; pass each iterable longest first."""
    for form in anywhere:
        if form in text:
            text = text.replace(form, MASK)
    for form in on_boundaries:
        if form in text:
            text = _replace_bounded(text, form)
    return text


@dataclass(frozen=True)
class Echoes:
    """The values just sent to Composio, to mask in, or drop with, what it answers."""

    anywhere: tuple[str, ...]
    on_boundaries: tuple[str, ...]
    values: frozenset[str]

    @classmethod
    def of(cls, values: Iterable[str]) -> Echoes:
        """Every value (any length) sent: literal forms by the length rule, encoded anywhere."""
        anywhere: set[str] = set()
        near: set[str] = set()
        kept = frozenset(v for v in values if v and v not in MASK)
        for value in kept:
            literal, encoded = forms(value)
            (near if bounded(value) else anywhere).update(literal)
            anywhere |= encoded
        near -= anywhere

        def longest(s: set[str]) -> tuple[str, ...]:
            return tuple(sorted(s, key=len, reverse=True))

        return cls(longest(anywhere), longest(near), kept)

    def mask(self, text: str) -> str:
        """Every echo masked; an echoed value cut short at the end of the text, too."""
        text = mask(text, self.anywhere, self.on_boundaries)
        return self._cut_head(text)

    def _cut_head(self, text: str) -> str:
        """A value's head (4+ characters) left at the end by a trim (``...``) is masked."""
        body = text.removesuffix("...").removesuffix("\u2026")
        if body == text:
            return text
        for value in sorted(self.values, key=len, reverse=True):
            for n in range(len(value) - 1, 3, -1):
                if body.endswith(value[:n]):
                    return body[:-n] + MASK + text[len(body) :]
        return text

    def touches(self, text: str) -> bool:
        """Whether ``text`` is a value sent, in any form, or holds one of ``SHORT``+ chars."""
        if text in self.values or text in self.anywhere or text in self.on_boundaries:
            return True
        return any(len(f) >= SHORT and f in text for f in (*self.anywhere, *self.on_boundaries))
