"""Leak searches: every captured source must first show it saw the run (a known non-secret
marker), then hold no secret in any encoding it could travel in."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import redis

_BASE64_BLOB = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def encoded_forms(secret: str) -> set[str]:
    """The secret exact, URL-encoded, JSON-escaped, and base64 (standard and URL-safe, with and
    without padding)."""
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for b64 in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        forms.update({b64.decode(), b64.decode().rstrip("=")})
    return forms


def with_decoded_base64(text: str) -> str:
    """The text plus every base64 blob in it decoded (kombu base64-encodes message bodies, and a
    secret inside a longer encoded string has no fixed encoded form of its own)."""
    decoded = []
    for blob in _BASE64_BLOB.findall(text):
        padded = blob + "=" * (-len(blob) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded.append(decode(padded).decode("utf-8", "replace"))
            except (binascii.Error, ValueError):
                continue
    return "\n".join([text, *decoded])


def assert_no_leak(
    sources: Mapping[str, str], secrets: Iterable[str], markers: Mapping[str, str]
) -> None:
    """Each source holds its marker (the capture saw the run: a source without one is a test
    bug) and none holds any encoded form of any secret, plain or inside a base64 blob."""
    missing = {name: markers[name] for name in sources if markers[name] not in sources[name]}
    assert not missing, f"these captures did not see the run (marker absent): {missing}"
    forms = {form: secret for secret in secrets for form in encoded_forms(secret)}
    searched = {name: with_decoded_base64(text) for name, text in sources.items()}
    leaks = [
        f"{name}: {secret[:8]}... as {form[:12]}..."
        for name, text in searched.items()
        for form, secret in forms.items()
        if form in text
    ]
    assert not leaks, "secret value leaked: " + "; ".join(leaks)


def dump_all_dbs(url: str) -> str:
    """Every key and value in every database of a Redis server, as one text."""
    parts: list[str] = []
    with redis.Redis.from_url(url) as r:
        dbs = [int(name[2:]) for name in r.info("keyspace")]
    for db in dbs:
        with redis.Redis.from_url(url, db=db) as r:
            for key in r.scan_iter(count=1000):
                parts.append(f"db{db} {key!r} {_value(r, key)!r}")
    return "\n".join(parts)


def _value(r: Any, key: bytes) -> object:
    kind = r.type(key)
    readers = {
        b"string": lambda: r.get(key),
        b"hash": lambda: r.hgetall(key),
        b"set": lambda: r.smembers(key),
        b"list": lambda: r.lrange(key, 0, -1),
        b"zset": lambda: r.zrange(key, 0, -1, withscores=True),
        b"stream": lambda: r.xrange(key),
    }
    reader = readers.get(kind)
    assert reader is not None, f"{key!r} has a type the dump cannot read: {kind!r}"
    return reader()
