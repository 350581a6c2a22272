"""Where log lines go, below ``logs.configure_logging``: rotator's own rendered lines
straight to the handler's stream, and Celery's per-task success line dropped unless at DEBUG."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

__all__ = ["DemoteSucceeded", "Line", "LineFactory", "celery_task_level"]


class Line:
    """What structlog writes one of rotator's rendered lines to: the stdlib handler's stream,
    under the handler's lock (so lines never interleave with libraries' lines) and flushed, as
    ``StreamHandler.emit`` does. ``name`` is the logger's (``add_logger_name`` reads it)."""

    __slots__ = ("_handler", "name")

    def __init__(self, handler: logging.StreamHandler[Any], name: str) -> None:
        self._handler = handler
        self.name = name

    def msg(self, line: str) -> None:
        handler = self._handler
        with handler.lock or contextlib.nullcontext():
            handler.stream.write(line + handler.terminator)
            handler.flush()

    debug = info = warning = error = critical = exception = msg


class LineFactory:
    """structlog's logger factory: ``structlog.get_logger(name)`` writes through ``handler``."""

    def __init__(self, handler: logging.StreamHandler[Any]) -> None:
        self._handler = handler

    def __call__(self, *args: Any) -> Line:
        return Line(self._handler, str(args[0]) if args else "rotator")


def celery_task_level(level: str) -> int:
    """The level of Celery's per-task lines: DEBUG when rotator logs at DEBUG, else WARNING."""
    return logging.DEBUG if logging.getLevelName(level) <= logging.DEBUG else logging.WARNING


class DemoteSucceeded(logging.Filter):
    """Drops Celery's INFO "Task ... succeeded in ..." line unless the level is DEBUG."""

    def __init__(self, level: str) -> None:
        super().__init__()
        self._keep = celery_task_level(level) <= logging.DEBUG

    def filter(self, record: logging.LogRecord) -> bool:
        if self._keep or record.levelno != logging.INFO:
            return True
        return " succeeded in " not in str(record.msg)
