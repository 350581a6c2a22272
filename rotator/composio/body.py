"""Part of the Composio seam: an answer's body, read with its cap on the wire, not after decoding.

httpx decodes a body as it reads it, with no bound on what one network chunk may become: one
8 KB chunk of a ``gzip, gzip`` body turns into 600 MB in a single decode call, and a 2 KB
answer into 2 GB. So the body is read undecoded (``iter_raw``) and decoded here by zlib with a
bound on every step's output (``max_length``); reading stops as soon as the decoded bytes pass
the cap, or the bytes on the wire pass it (with room for a compressed body's overhead). Memory
is then the cap plus one network chunk, whatever the server sends.

One content encoding is read: none (``identity``), ``gzip`` or ``deflate``, which is all
rotator asks for (``ACCEPT_ENCODING``). A stacked one (``gzip, gzip``) or any other (``br``,
``zstd``, ``compress``, unknown) is refused unread: nothing legitimate sends what was not asked.

``read_body`` names why a body cannot be used (``Body.problem``): over the cap ("answer larger
than N bytes"), refused encoding, undecodable, cut off. It never says "not JSON" for these: the
caller judges the answer by its status (see ``rotator.composio.client``). A timeout while
reading is not caught here: the call's deadline passed, and the whole call has no answer.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass

import httpx

__all__ = ["ACCEPT_ENCODING", "Body", "body_problem", "read_body", "too_large"]

ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_SHOWN = re.compile(r"[A-Za-z0-9._-]{1,24}(?: ?, ?[A-Za-z0-9._-]{1,24}){0,3}", re.ASCII)
_SLACK = 4096  # wire bytes allowed past the cap: gzip's header, trailer and stored blocks


@dataclass(frozen=True)
class Body:
    """At most the cap's bytes of the decoded body, and why it cannot be used (None: read
    whole and within the cap)."""

    raw: bytes
    problem: str | None = None


def too_large(limit: int) -> str:
    return f"answer larger than {limit} bytes"


def _wbits(header: str) -> tuple[int | None, str | None]:
    """zlib's ``wbits`` for the one content encoding (None: not encoded), or why refused."""
    codings = [c.strip().lower() for c in header.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None, None
    if len(codings) == 1 and codings[0] in _WBITS:
        return _WBITS[codings[0]], None
    shown = repr(header.strip()) if _SHOWN.fullmatch(header.strip()) else "(unreadable)"
    return None, f"content encoding {shown} refused (rotator reads one layer of gzip or deflate)"


class _Reader:
    """Feeds wire chunks through an optional zlib decoder, keeping at most ``limit + 1``
    decoded bytes (one past the cap: enough to know the body is over it)."""

    def __init__(self, wbits: int | None, limit: int) -> None:
        self._zlib = zlib.decompressobj(wbits) if wbits is not None else None
        self._limit = limit
        self.out = bytearray()
        self.wire = 0

    @property
    def over(self) -> bool:
        return len(self.out) > self._limit or self.wire > self._limit + _SLACK

    def feed(self, chunk: bytes) -> None:
        self.wire += len(chunk)
        room = self._limit + 1 - len(self.out)
        if self._zlib is None:
            self.out += chunk[:room]
            return
        data = chunk
        while data and room > 0 and not self._zlib.eof:
            self.out += self._zlib.decompress(data, room)  # never more than room bytes
            data = self._zlib.unconsumed_tail
            room = self._limit + 1 - len(self.out)

    def finish(self) -> str | None:
        """Why the (whole) wire body does not decode, None when it does."""
        if self._zlib is None or self._zlib.eof:
            return None
        # all input is consumed (feed stops early only over the cap): what is left to flush
        # is at most one back-reference, not a bomb
        self.out += self._zlib.flush()[: self._limit + 1 - len(self.out)]
        return None if self._zlib.eof else "body cut off (compressed stream incomplete)"


def read_body(response: httpx.Response, limit: int) -> Body:
    """The body of a streamed ``response``, decoded, capped at ``limit`` bytes."""
    try:  # a response built whole in memory (tests, a mock transport): only the cap applies
        content = response.content
    except httpx.ResponseNotRead:
        pass
    else:
        return Body(content[:limit], too_large(limit) if len(content) > limit else None)
    wbits, refused = _wbits(response.headers.get("content-encoding", ""))
    if refused is not None:
        return Body(b"", refused)
    reader = _Reader(wbits, limit)
    try:
        problem = _read(response, reader)
    except httpx.TimeoutException:
        raise
    except httpx.HTTPError as exc:
        problem = f"body cut off ({type(exc).__name__})"
    except zlib.error:
        return Body(b"", "body could not be decoded (not valid gzip or deflate)")
    if reader.over:
        problem = too_large(limit)
    return Body(bytes(reader.out[:limit]), problem)


def _read(response: httpx.Response, reader: _Reader) -> str | None:
    """Feed the wire body to ``reader`` until it ends or passes the cap."""
    for chunk in response.iter_raw():
        reader.feed(chunk)
        if reader.over:
            return None
    return reader.finish()


def body_problem(raw: bytes) -> str | None:
    """Why a 2xx PATCH body is not Composio's success answer, or None when it is."""
    try:
        data = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        return "a 2xx whose body is not a JSON object"
    if "error" in data:
        return "a 2xx whose body is an error envelope"
    if data and data.get("success") is not True:
        return "a 2xx whose body does not say success"
    return None
