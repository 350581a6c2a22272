"""structlog configuration and the redaction processor.

Every log line, ours or a library's routed through stdlib logging, passes ``redact``: values
under secret-sounding keys become ``***``, and every secret value rotator has read (registered
in ``SECRETS``) is cut out of every string, tracebacks included, by the length rule in
``observability.redaction``. Structural fields are left alone so that redaction cannot blind the
logs: field names, and the values of ``event`` (rotator's own dotted names), ``level``,
``logger``, ``timestamp``, ``outcome``, ``reason``, the ids and the paths, as long as each
looks like what it is (a value that does not is scrubbed like any other). Then every value is
bounded (``observability.bounds``): untrusted text cannot make a line longer than Loki takes.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any, Literal

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from rotator.observability import bounds
from rotator.observability.bounds import cut
from rotator.observability.redaction import MASK, SHORT, bounded, forms, mask
from rotator.observability.sinks import DemoteSucceeded, LineFactory, celery_task_level

__all__ = ["MASK", "SECRETS", "SecretRegistry", "configure_logging", "redact", "scrub"]

_SECRET_KEY = re.compile(
    r"(secret|passw|token|api[_-]?key|apikey|authorization|private[_-]?key|credential_value|"
    r"^credentials$|^shared_credentials$|^body$|^data$)",
    re.IGNORECASE,
)
_SAFE_KEYS = frozenset({"token_ttl", "token_renewable", "request_id", "error_slug"})
_NOT_SECRET = frozenset({"custom", "default", "true", "false", "null", "none"})
_EVENT = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+", re.ASCII)
_KEY = re.compile(r"[A-Za-z_][\w.-]{0,63}", re.ASCII)
_ID = re.compile(r"[\w.:/-]{1,512}", re.ASCII)  # no @ (URL userinfo), no + (base64)
_TEXT = re.compile(r"[\w .:;,()<>=/+#-]{1,300}", re.ASCII)
_STRUCTURAL: dict[str, re.Pattern[str]] = {
    **dict.fromkeys(("level", "logger", "logger_name", "timestamp", "task_name"), _ID),
    **dict.fromkeys(("auth_config_id", "nanoid", "task_id", "request_id", "error_slug"), _ID),
    **dict.fromkeys(("vault_path", "path", "mount", "prefix", "method"), _ID),
    **dict.fromkeys(("outcome", "reason", "result", "kind"), _TEXT),
}
_META = frozenset({"_record", "_from_structlog"})


class SecretRegistry:
    """Every secret value read this process; ``scrub`` removes them from any text.

    Values of ``SHORT`` characters or more are indexed, with their encoded forms, by their
    last four characters (prefixes such as ``sk_live_`` are shared, endings of random keys are
    not): ``scrub`` takes the text's 4-grams, keeps those in the index (a C-level filter over
    the text's grams, safe while another thread registers), and only on a hit replaces the
    candidate forms, longest first. A log line without a secret costs one pass over its
    4-grams, not one regex over every value ever read (which made 10,000 auth configs
    quadratic). Shorter values are kept apart: ``equals`` tells a field value that is one.
    """

    _HEAD = 4

    def __init__(self) -> None:
        self._by_head: dict[str, list[str]] = {}
        self._bounded: set[str] = set()
        self._values: set[str] = set()
        self._short: set[str] = set()
        self._lock = threading.Lock()

    def register(self, value: str) -> None:
        """Remember a secret and its encoded forms (exact, URL, JSON, base64, hex)."""
        if not value.strip() or value.lower() in _NOT_SECRET or value in self._values:
            return
        with self._lock:
            self._values.add(value)
            if len(value) < SHORT:
                self._short.update({value, value.strip()})
                return
            literal, encoded = forms(value)
            if bounded(value):
                self._bounded.update(literal - encoded)
            for form in sorted(literal | encoded):
                # append-only lists: a reader iterating one never sees it shrink or reorder
                self._by_head.setdefault(form[-self._HEAD :], []).append(form)

    def register_all(self, values: Iterable[str]) -> None:
        for v in values:
            self.register(v)

    def equals(self, value: str) -> bool:
        """Whether ``value`` is (but for surrounding blanks) a registered short secret."""
        return value in self._short or value.strip() in self._short

    def scrub(self, text: str) -> str:
        """``text`` with every registered value of ``SHORT``+ characters, in any form, masked."""
        by_head = self._by_head
        n = self._HEAD
        if not by_head or len(text) < n:
            return text
        grams = {text[i : i + n] for i in range(len(text) - n + 1)}
        hits = set(filter(by_head.__contains__, grams))
        if not hits:
            return text
        found = {v for h in hits for v in by_head.get(h, ()) if v in text}
        near = self._bounded
        longest = sorted(found, key=len, reverse=True)
        return mask(text, [f for f in longest if f not in near], [f for f in longest if f in near])

    def clear(self) -> None:
        with self._lock:
            self._by_head = {}
            self._bounded = set()
            self._values = set()
            self._short = set()


SECRETS = SecretRegistry()


def scrub(text: str) -> str:
    """Free text (an error message, a CLI line) with every registered value masked."""
    return MASK if SECRETS.equals(text) else SECRETS.scrub(text)


def _text(key: str, value: str) -> str:
    """A structural field shaped like one is kept as is; any other text is scrubbed."""
    shape = _STRUCTURAL.get(key)
    return value if shape is not None and shape.fullmatch(value) else scrub(value)


# Memoised per field name shaped like code (a few dozen in all; at most _MEMO of them).
_MEMO = 512
_MASKED: dict[str, bool] = {}
_NAMES: set[str] = set()


def _masked(key: str) -> bool:
    """Whether a field is masked for its name alone."""
    rule = _MASKED.get(key)
    if rule is None:
        rule = key not in _SAFE_KEYS and _SECRET_KEY.search(key) is not None
        if len(_MASKED) < _MEMO and (not key or _KEY.fullmatch(key)):
            _MASKED[key] = rule
    return rule


def _clean(key: str, value: object, depth: int = 0) -> object:
    """One value masked, scrubbed, then cut to the bounds (see ``observability.bounds``)."""
    if _masked(key):
        return MASK
    if isinstance(value, str):
        return cut(
            _text(key, value), bounds.TRACE_LIMIT if key == "exception" else bounds.FIELD_LIMIT
        )
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, dict | list | tuple | set | frozenset):
        return _items(value, depth)
    return cut(scrub(repr(value)))


def _items(value: dict[object, object] | Iterable[object], depth: int) -> object:
    """A list or mapping, its first ``bounds.ITEMS_LIMIT`` items cleaned, the rest counted."""
    if depth >= bounds.DEPTH_LIMIT:
        return "...[nested too deep]"
    if isinstance(value, dict):
        pairs = list(value.items())
        kept = {_name(str(k)): _clean(str(k), v, depth + 1) for k, v in pairs[: bounds.ITEMS_LIMIT]}
        if len(pairs) > bounds.ITEMS_LIMIT:
            kept["..."] = f"[{len(pairs) - bounds.ITEMS_LIMIT} items cut]"
        return kept
    listed = list(value)
    cleaned = [_clean("", v, depth + 1) for v in listed[: bounds.ITEMS_LIMIT]]
    if len(listed) > bounds.ITEMS_LIMIT:
        cleaned.append(f"...[{len(listed) - bounds.ITEMS_LIMIT} items cut]")
    return cleaned


def _name(key: str) -> str:
    """A field name is code, not data: kept when it looks like one, else scrubbed."""
    if key in _NAMES:
        return key
    if not _KEY.fullmatch(key):
        return cut(SECRETS.scrub(key), bounds.NAME_LIMIT)
    if len(_NAMES) < _MEMO:
        _NAMES.add(key)
    return key


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask by key name, scrub registered values, keep structure."""
    ours = event_dict.get("_from_structlog", True) is not False
    cleaned: dict[str, object] = {}
    for key, value in event_dict.items():
        if key in _META and not isinstance(value, str):  # a LogRecord, a flag: never text
            cleaned[key] = value
        elif key == "event":
            keep = ours and isinstance(value, str) and _EVENT.fullmatch(value)
            cleaned[key] = value if keep else _clean("", value)
        else:
            cleaned[_name(key)] = _clean(key, value)
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


_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
}


def _metered(level: str) -> tuple[list[Processor], int]:
    """The processors that count the canonical events before the level filter drops any, and
    the level structlog's bound loggers filter at (INFO at most: the events counted are INFO+)."""
    from rotator.observability import metrics

    metrics.enable()
    wanted: int = logging.getLevelName(level)
    if wanted <= logging.INFO:
        return [metrics.observe], wanted

    def below_level(_: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        if _METHOD_LEVELS.get(method, logging.CRITICAL) < wanted:
            raise structlog.DropEvent
        return event_dict

    return [metrics.observe, below_level], logging.INFO


def configure_logging(
    level: str = "INFO",
    fmt: Literal["json", "console", "auto"] = "auto",
    stream: Any = None,
    *,
    metrics: bool = False,
) -> None:
    """Configure structlog and route stdlib logging (hvac, httpx, celery) through it.

    rotator's own lines skip stdlib logging: structlog filters them by level, renders them and
    writes each to the one handler's stream under the handler's lock (no ``LogRecord``, no
    second formatting pass: a third of a rotation's log cost). Libraries' lines go through the
    handler's ``ProcessorFormatter``: the same processors, the same renderer, the same stream.

    ``metrics``: rotator's own lines also feed the Prometheus metrics (``metrics.observe``),
    the INFO ones too when the level is higher (they are counted, then dropped).
    """
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *_shared()],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    first, floor = _metered(level) if metrics else ([], logging.getLevelName(level))
    structlog.configure(
        processors=[*first, *_shared(), renderer],
        logger_factory=LineFactory(handler),
        wrapper_class=structlog.make_filtering_bound_logger(floor),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "urllib3", "hvac"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # One line per rotation: Celery's per-task "Received task" and "succeeded in" lines are
    # DEBUG (the canonical rotation line says it all); its retry and failure lines stay.
    logging.getLogger("celery.worker.strategy").setLevel(celery_task_level(level))
    trace = logging.getLogger("celery.app.trace")
    trace.filters[:] = [f for f in trace.filters if not isinstance(f, DemoteSucceeded)]
    trace.addFilter(DemoteSucceeded(level))
