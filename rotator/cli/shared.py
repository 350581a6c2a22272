"""What the ``rotator`` commands share: opening a runtime, exit codes, picking ids, running in
parallel. Below the commands; imports none of them."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import click
import structlog

from rotator.cli.errors import BadInput, clip
from rotator.console.untrusted import plain
from rotator.observability.logs import configure_logging
from rotator.rotation.bindings import nanoid_problem
from rotator.settings.load import load_settings

if TYPE_CHECKING:  # the runtime (Celery, hvac, httpx) is imported when a command runs
    from rotator.runtime import Runtime

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "checked_entry_id",
    "checked_nanoid",
    "nanoid_argument",
    "open_runtime",
    "parallel",
    "pick_ids",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")
R = TypeVar("R")
log = structlog.get_logger("rotator.cli")
_ENTRY_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")  # a Redis stream id: ms-sequence


@contextmanager
def open_runtime() -> Iterator[Runtime]:
    """Load settings, configure logs, build clients (errors: one line, see ``cli.errors``)."""
    from rotator.runtime import build_runtime

    settings = load_settings()  # a ConfigError ends the command in OneLineGroup: exit 2
    configure_logging(settings.log_level, settings.log_format)
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()


def checked_nanoid(value: str) -> str:
    """``value`` when it is a nanoid, else ``BadInput`` (one line, exit 2) naming it with its
    look-alike characters escaped: an operator's id is checked before anything acts on it."""
    if (problem := nanoid_problem(value)) is not None:
        raise BadInput(f"NANOID {problem}")
    return value


def nanoid_argument(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A click callback for an optional NANOID argument (``checked_nanoid`` when given)."""
    return None if value is None else checked_nanoid(value)


def checked_entry_id(value: str) -> str:
    """``value`` when it is a stream entry id (``1718000000000-0``), else ``BadInput``."""
    if _ENTRY_ID.fullmatch(value) is None:
        raise BadInput(
            f"ENTRY_ID {clip(ascii(value))} is not a dead-letter entry id (like 1718000000000-0; "
            "`rotator dlq list` shows them)"
        )
    return value


def pick_ids(rt: Runtime, ids: Sequence[str], all_: bool) -> list[str]:
    if all_ == bool(ids):
        raise click.UsageError("give NANOID... or --all (not both)")
    if not all_:
        return list(dict.fromkeys(map(checked_nanoid, ids)))
    view = rt.catalog.view(fresh=True)
    for problem in view.problems:
        if rt.settings.log_format == "json":
            log.warning("catalog.skipped", problem=problem)
        else:
            click.echo(f"rotator: skipped: {plain(problem)}", err=True)
    return view.ids()


def parallel(fn: Callable[[T], R], ids: Sequence[T], concurrency: int) -> list[R]:
    """``fn`` over ``ids`` on threads, in order, each call in a copy of the caller's context
    (its trigger)."""
    ctx = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(ids) or 1))) as pool:
        return list(pool.map(lambda i: ctx.copy().run(fn, i), ids))
