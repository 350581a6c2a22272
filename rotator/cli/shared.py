"""What the ``rotator`` commands share: opening a runtime, exit codes, picking ids, running in
parallel and the queued rotate path. Below the commands; imports none of them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import click
import structlog

from rotator.bindings import nanoid_problem
from rotator.cli.errors import BadInput
from rotator.config import load_settings
from rotator.logs import configure_logging
from rotator.models import Outcome
from rotator.runtime import Runtime, build_runtime
from rotator.states import Result

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
log = structlog.get_logger("rotator.cli")


@contextmanager
def open_runtime() -> Iterator[Runtime]:
    """Load settings, configure logs, build clients (errors: one line, see ``cli.errors``)."""
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
            click.echo(f"rotator: skipped: {problem}", err=True)
    return view.ids()


def parallel(fn: Callable[[str], Outcome], ids: list[str], concurrency: int) -> list[Outcome]:
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(ids) or 1))) as pool:
        return list(pool.map(fn, ids))


def _outcome(nanoid: str, raw: object, fallback: str) -> Outcome:
    final = (Result.SUCCEEDED, Result.SKIPPED, Result.FAILED)
    if isinstance(raw, dict) and raw.get("result") in final:
        fields = {k: v for k, v in raw.items() if k in Outcome.__dataclass_fields__}
        return Outcome(**{**fields, "result": Result(raw["result"])})
    return Outcome(auth_config_id=nanoid, result=Result.FAILED, reason=fallback)


def queue_rotations(
    ids: Sequence[str], *, force: bool, version: int | None, wait: bool, timeout: float
) -> list[Outcome] | None:
    """Send ``rotator.rotate`` for each id; with ``wait``, collect one outcome per id."""
    from rotator.app import ROTATE_TASK, app

    results = [
        app.send_task(ROTATE_TASK, args=[i], kwargs={"force": force, "version": version})
        for i in ids
    ]
    for nanoid, res in zip(ids, results, strict=True):
        click.echo(f"queued {nanoid} task {res.id}", err=wait)
    if not wait:
        return None
    deadline = time.monotonic() + timeout
    outcomes = []
    for nanoid, res in zip(ids, results, strict=True):
        try:
            raw = res.get(timeout=max(0.1, deadline - time.monotonic()), propagate=False)
            outcomes.append(_outcome(nanoid, raw, f"task ended in state {res.state}"))
        except Exception:  # celery's TimeoutError: the task is still queued or retrying
            outcomes.append(
                Outcome(auth_config_id=nanoid, result=Result.RETRY_LATER, reason="not done in time")
            )
    return outcomes
