"""Helpers for redaction tests: a private registry, and the forms a leak search looks for."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

from rotator import logs


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

    Written independently of ``rotator.redaction.forms`` so that a form the product forgets
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
