"""Helpers for redaction tests: a private registry, and the forms a leak search looks for."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from rotator.observability import logs


@contextmanager
def registry(*values: str) -> Iterator[logs.SecretRegistry]:
    """A fresh ``logs.SECRETS`` holding ``values`` for the block, then the process's own."""
    fresh = logs.SecretRegistry()
    fresh.register_all(values)
    original, logs.SECRETS = logs.SECRETS, fresh
    try:
        yield fresh
    finally:
        logs.SECRETS = original


def echo_forms(secret: str) -> set[str]:
    """The secret as a careless server may echo it: every form a leak search looks for.

    Written independently of ``observability.redaction.forms`` so that a form the product forgets
    is still searched for here.
    """
    raw = secret.encode()
    b64 = {enc(raw).decode() for enc in (base64.b64encode, base64.urlsafe_b64encode)}
    return {
        secret,
        " ".join(secret.split()),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        *b64,
        *(b.rstrip("=") for b in b64),
        raw.hex(),
        raw.hex().upper(),
    } - {""}


def leaves(data: object) -> Iterator[str]:
    """Every string in decoded JSON (keys too): where an escaped echo shows its real form."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            yield from leaves(value)
    elif isinstance(data, list):
        for item in data:
            yield from leaves(item)


def decoded(text: str) -> str:
    """``text`` plus the strings of every line (or the whole text) that is JSON, decoded."""
    parts = [text]
    for chunk in [text, *text.splitlines()]:
        try:
            parts.extend(leaves(json.loads(chunk)))
        except ValueError:
            continue
    return "\n".join(parts)


def redis_texts(url: str) -> str:
    """Every key and value in a Redis server, decoded as UTF-8 (not ``repr``, which escapes)."""
    out: list[str] = []
    with redis.Redis.from_url(url) as r:
        for key in r.scan_iter(count=1000):
            out.append(key.decode(errors="replace"))
            kind = r.type(key)
            if kind == b"string":
                values = [r.get(key) or b""]
            elif kind == b"hash":
                values = [b for kv in r.hgetall(key).items() for b in kv]
            elif kind == b"stream":
                values = [b for _, e in r.xrange(key) for kv in e.items() for b in kv]
            elif kind in (b"set", b"zset", b"list"):
                values = list(r.smembers(key) if kind == b"set" else r.zrange(key, 0, -1))
                values += r.lrange(key, 0, -1) if kind == b"list" else []
            else:
                values = []
            out += [decoded(v.decode(errors="replace")) for v in values]
    return "\n".join(out)
