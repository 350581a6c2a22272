"""What the ``rotator`` commands share: opening a runtime, exit codes, picking ids, running in
parallel. Below the commands; imports none of them."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import click
import structlog

from rotator.cli.errors import BadInput
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
    "open_runtime",
    "parallel",
    "pick_ids",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")
R = TypeVar("R")
log = structlog.get_logger("rotator.cli")


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


def pick_ids(rt: Runtime, ids: Sequence[str], all_: bool) -> list[str]:
    if all_ == bool(ids):
        raise click.UsageError("give NANOID... or --all (not both)")
    if not all_:
        bad = [p for p in map(nanoid_problem, ids) if p is not None]
        if bad:
            raise BadInput(f"NANOID {bad[0]}")
        return list(dict.fromkeys(ids))
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
