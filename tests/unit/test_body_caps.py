"""Reading a Composio body with its cap on the wire (rotator.composio.body): one layer of gzip or
deflate decoded with bounded output per step, anything else refused unread, every problem named.
The same over real sockets, with memory measured, is in test_hostile_http.py."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Iterator

import httpx
import pytest

from rotator.composio.body import Body, read_body
from tests.hostile_http import gzip_bomb

LIMIT = 64 * 1024
JSON = b'{"success": true}'


class Wire:
    """A response whose body is still on the "wire" (an iterator), as a streamed send leaves
    it; ``sent`` counts the bytes handed out."""

    def __init__(self, body: bytes, coding: str | None, chunk: int = 8192) -> None:
        self.sent = 0
        headers = {"Content-Encoding": coding} if coding is not None else {}
        self.response = httpx.Response(200, headers=headers, content=self._chunks(body, chunk))

    def _chunks(self, body: bytes, chunk: int) -> Iterator[bytes]:
        for start in range(0, len(body), chunk):
            self.sent += chunk
            yield body[start : start + chunk]


@pytest.mark.parametrize(
    ("wire", "coding", "expected"),
    [
        (JSON, None, Body(JSON)),
        (JSON, "identity", Body(JSON)),
        (gzip.compress(JSON), "gzip", Body(JSON)),
        (gzip.compress(JSON), "identity, GZIP", Body(JSON)),
        (zlib.compress(JSON), "deflate", Body(JSON)),
        (b"x" * (LIMIT + 1), None, Body(b"x" * LIMIT, "answer larger than 65536 bytes")),
        (
            gzip.compress(b"y" * 10 * LIMIT),
            "gzip",
            Body(b"y" * LIMIT, "answer larger than 65536 bytes"),
        ),
        (
            gzip.compress(JSON)[:-6],
            "gzip",
            Body(JSON, "body cut off (compressed stream incomplete)"),
        ),
        (
            b"not gzip at all",
            "gzip",
            Body(b"", "body could not be decoded (not valid gzip or deflate)"),
        ),
    ],
    ids=[
        "plain",
        "identity",
        "gzip",
        "identity-then-gzip",
        "deflate",
        "plain-over",
        "gzip-over",
        "gzip-cut",
        "gzip-garbage",
    ],
)
def test_one_layer_is_decoded_within_the_cap_and_every_problem_named(
    wire: bytes, coding: str | None, expected: Body
) -> None:
    """No encoding, identity, gzip or deflate is read; past 64 KiB (decoded) the body is "larger
    than" the cap; a cut or garbled stream says so."""
    assert read_body(Wire(wire, coding).response, LIMIT) == expected


@pytest.mark.parametrize(
    ("coding", "shown"),
    [
        ("gzip, gzip", "'gzip, gzip'"),
        ("gzip,deflate", "'gzip,deflate'"),
        ("br", "'br'"),
        ("zstd", "'zstd'"),
        ("x-evil<script>", "(unreadable)"),
    ],
)
def test_stacked_or_unknown_encodings_are_refused_unread(coding: str, shown: str) -> None:
    """Two layers, or an encoding rotator never asks for, is refused before one byte is read;
    an odd header value is not repeated."""
    wire = Wire(gzip_bomb(1 << 30, 2), coding)
    body = read_body(wire.response, LIMIT)
    assert body == Body(
        b"", f"content encoding {shown} refused (rotator reads one layer of gzip or deflate)"
    )
    assert wire.sent == 0


def test_a_bomb_in_one_network_chunk_decodes_no_further_than_the_cap() -> None:
    """A 2 MB gzip chunk that inflates to 2 GiB, handed over in one piece: reading it peaks at
    a few MB (one chunk and the cap), not at what it would inflate to."""
    bomb = gzip_bomb(2 << 30, 1)
    tracemalloc.start()
    try:
        body = read_body(Wire(bomb, "gzip", chunk=len(bomb)).response, LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert body == Body(b"\0" * LIMIT, "answer larger than 65536 bytes")
    assert peak < len(bomb) + 4 * LIMIT + (1 << 20), f"peaked at {peak / 2**20:.1f} MB"
