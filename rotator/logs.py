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
    """Every secret value read this process; ``scrub`` removes them from any text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        """Remember a secret, and its URL-encoded forms (a secret may travel in a URL)."""
        if len(value) < 4 or value.lower() in _NOT_SECRET or value in self._values:
            return
        forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
        with self._lock:
            self._values.update(forms)
            self._pattern = None

    def register_all(self, values: Iterable[str]) -> None:
        for v in values:
            self.register(v)

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                if not self._values:
                    return text
                alts = sorted(self._values, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(map(re.escape, alts)))
        return pattern.sub(MASK, text)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None


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
