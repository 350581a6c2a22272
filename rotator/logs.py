"""structlog configuration and the redaction processor.

Every log line, ours or a library's routed through stdlib logging, passes ``redact``: values
under secret-sounding keys become ``***``, and every secret value rotator has read (registered
in ``SECRETS``) is cut out of every string, tracebacks included.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any, Literal

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

__all__ = ["SECRETS", "SecretRegistry", "configure_logging", "redact", "scrub"]

MASK = "***"
_SECRET_KEY = re.compile(
    r"(secret|passw|token|api[_-]?key|apikey|authorization|private[_-]?key|credential_value|"
    r"^credentials$|^shared_credentials$|^body$|^data$)",
    re.IGNORECASE,
)
_SAFE_KEYS = frozenset({"token_ttl", "token_renewable", "request_id", "error_slug"})
_NOT_SECRET = frozenset({"custom", "default", "true", "false", "null", "none"})


class SecretRegistry:
    """Every secret value read this process; ``scrub`` removes them from any text.

    Values are indexed by their last four characters (no secret is shorter; prefixes such as
    ``sk_live_`` are shared, endings of random keys are not): ``scrub`` takes the text's 4-grams,
    intersects them with the index in C, and only on a hit replaces the candidate values,
    longest first. A log line without a secret costs one set operation, not one regex over
    every value ever read (which made 10,000 auth configs quadratic).
    """

    _HEAD = 4

    def __init__(self) -> None:
        self._by_head: dict[str, list[str]] = {}
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def register(self, value: str) -> None:
        """Remember a secret, and its URL-encoded forms (a secret may travel in a URL)."""
        if len(value) < self._HEAD or value.lower() in _NOT_SECRET or value in self._values:
            return
        forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
        with self._lock:
            for form in forms - self._values:
                self._values.add(form)
                # append-only lists: a reader iterating one never sees it shrink or reorder
                self._by_head.setdefault(form[-self._HEAD :], []).append(form)

    def register_all(self, values: Iterable[str]) -> None:
        for v in values:
            self.register(v)

    def scrub(self, text: str) -> str:
        by_head = self._by_head
        n = self._HEAD
        if not by_head or len(text) < n:
            return text
        hits = {text[i : i + n] for i in range(len(text) - n + 1)} & by_head.keys()
        if not hits:
            return text
        candidates = sorted({v for h in hits for v in by_head.get(h, ())}, key=len, reverse=True)
        for value in candidates:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def clear(self) -> None:
        with self._lock:
            self._by_head = {}
            self._values = set()


SECRETS = SecretRegistry()


def scrub(text: str) -> str:
    return SECRETS.scrub(text)


def _clean(key: str, value: object) -> object:
    if key not in _SAFE_KEYS and _SECRET_KEY.search(key):
        return MASK
    if isinstance(value, str):
        return SECRETS.scrub(value)
    if isinstance(value, dict):
        return {SECRETS.scrub(str(k)): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean("", v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return SECRETS.scrub(repr(value))


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask by key name, scrub registered values everywhere."""
    cleaned = {
        SECRETS.scrub(key): _clean(key if key != "event" else "", value)
        for key, value in event_dict.items()
    }
    event_dict.clear()
    event_dict.update(cleaned)
    return event_dict


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]


def configure_logging(
    level: str = "INFO",
    fmt: Literal["json", "console", "auto"] = "auto",
    stream: Any = None,
) -> None:
    """Configure structlog and route stdlib logging (hvac, httpx, celery) through it."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *_shared()],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "urllib3", "hvac"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def bind_rotation(**fields: object) -> None:
    structlog.contextvars.bind_contextvars(**fields)


def unbind_rotation(*keys: str) -> None:
    structlog.contextvars.unbind_contextvars(*keys)
