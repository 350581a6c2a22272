"""What the ``rotator`` commands share: opening a runtime, exit codes, picking ids, running in
parallel and the queued rotate path. Below the commands; imports none of them."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import click
import structlog

from rotator.bindings import nanoid_problem
from rotator.cli.errors import BadInput
from rotator.config import load_settings
from rotator.logs import configure_logging
from rotator.models import Outcome
from rotator.states import Result
from rotator.trigger import Trigger
from rotator.untrusted import plain

if TYPE_CHECKING:  # the runtime (Celery, hvac, httpx) is imported when a command runs
    from rotator.runtime import Runtime

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "open_runtime",
    "parallel",
    "pick_ids",
    "queue_rotations",
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


def _outcome(nanoid: str, raw: object, fallback: str) -> Outcome:
    final = (Result.SUCCEEDED, Result.SKIPPED, Result.FAILED, Result.UNVERIFIED)
    if isinstance(raw, dict) and raw.get("result") in final:
        fields = {k: v for k, v in raw.items() if k in Outcome.__dataclass_fields__}
        return Outcome(**{**fields, "result": Result(raw["result"])})
    return Outcome(auth_config_id=nanoid, result=Result.FAILED, reason=fallback)


def queue_rotations(
    ids: Sequence[str],
    *,
    force: bool,
    version: int | None,
    wait: bool,
    timeout: float,
    trigger: Trigger,
) -> list[Outcome] | None:
    """Send ``rotator.rotate`` for each id; with ``wait``, collect one outcome per id."""
    from rotator.app import ROTATE_TASK, app

    kwargs = {"force": force, "version": version, "trigger": trigger.value}
    results = [app.send_task(ROTATE_TASK, args=[i], kwargs=kwargs) for i in ids]
    if not wait:
        for nanoid, res in zip(ids, results, strict=True):
            click.echo(f"queued {plain(nanoid)} task {res.id}")
        return None
    from rotator.progress import wait_all

    click.echo(f"queued {len(ids)} rotation(s); waiting up to {timeout:.0f}s", err=True)
    return wait_all(
        dict(zip(ids, results, strict=True)),
        timeout=timeout,
        collect=lambda n, res: _outcome(
            n, res.get(timeout=5, propagate=False), f"task ended in state {res.state}"
        ),
        late=lambda n: Outcome(
            auth_config_id=n, result=Result.RETRY_LATER, reason="not done in time"
        ),
    )
