"""The queued rotate path: send the rotations (``rotator.rotate_batch`` tasks when many, see
``rotator.core.batching``) and, with ``--wait``, follow each auth config to its outcome: through its
batch's result, then through the ``rotator.rotate`` task it was requeued as, if it was."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import click

from rotator.console.untrusted import plain
from rotator.core.batching import Entry
from rotator.core.models import Outcome
from rotator.core.states import Result
from rotator.core.trigger import Trigger

__all__ = ["queue_rotations"]

T = TypeVar("T", dict[str, Any], list[Any])
_FINAL = (Result.SUCCEEDED, Result.SKIPPED, Result.FAILED, Result.UNVERIFIED)


def queue_rotations(
    ids: Sequence[str],
    *,
    force: bool,
    version: int | None,
    wait: bool,
    timeout: float,
    trigger: Trigger,
) -> list[Outcome] | None:
    """Queue a rotation of each id; with ``wait``, collect one outcome per id."""
    from rotator.worker.app import send_batches, settings

    entries = [Entry(i, force, trigger.value) for i in ids]
    # results are kept (a day) with or without --wait: a printed task id can be looked up
    sent = send_batches(entries, most=settings().batch_size, keep=True, version=version)
    if not wait:
        for nanoids, task_id in sent:
            for nanoid in nanoids:
                click.echo(f"queued {plain(nanoid)} task {task_id}")
        return None
    from rotator.console.progress import wait_all

    shown = f" in {len(sent)} tasks" if len(sent) < len(ids) else ""
    click.echo(f"queued {len(ids)} rotation(s){shown}; waiting up to {timeout:.0f}s", err=True)
    follow = _Follow({task_id: nanoids for nanoids, task_id in sent})
    return wait_all(
        list(ids),
        follow.poll,
        timeout=timeout,
        late=lambda n: Outcome(
            auth_config_id=n, result=Result.RETRY_LATER, reason="not done in time"
        ),
    )


class _Follow:
    """The tasks still waited for: task id -> the auth configs it carries (several: a
    ``rotator.rotate_batch``, whose result lists outcomes and requeued task ids)."""

    def __init__(self, tasks: dict[str, list[str]]) -> None:
        from rotator.worker.app import app

        self._tasks = tasks
        self._app = app

    def poll(self) -> dict[str, Outcome]:
        """The outcomes of the tasks finished since the last call (their requeued entries are
        followed from now on)."""
        done: dict[str, Outcome] = {}
        for task_id, nanoids in list(self._tasks.items()):
            res = self._app.AsyncResult(task_id)
            if not res.ready():
                continue
            del self._tasks[task_id]
            raw = res.get(timeout=5, propagate=False)
            fallback = f"task ended in state {res.state}"
            if len(nanoids) == 1:
                done[nanoids[0]] = _outcome(nanoids[0], raw, fallback)
                continue
            done.update(self._batch(nanoids, raw, fallback))
        return done

    def _batch(self, nanoids: list[str], raw: object, fallback: str) -> dict[str, Outcome]:
        body: dict[str, Any] = raw if isinstance(raw, dict) else {}
        requeued = _typed(body.get("requeued"), dict)
        outcomes = _typed(body.get("outcomes"), list)
        by_id = {o.get("auth_config_id"): o for o in outcomes if isinstance(o, dict)}
        done: dict[str, Outcome] = {}
        for nanoid in nanoids:
            if isinstance(retry := requeued.get(nanoid), str):
                self._tasks[retry] = [nanoid]
            else:
                missing = fallback if not body else "no outcome in its batch's result"
                done[nanoid] = _outcome(nanoid, by_id.get(nanoid), missing)
        return done


def _outcome(nanoid: str, raw: object, fallback: str) -> Outcome:
    if isinstance(raw, dict) and raw.get("result") in _FINAL:
        fields = {k: v for k, v in raw.items() if k in Outcome.__dataclass_fields__}
        return Outcome(**{**fields, "result": Result(raw["result"])})
    return Outcome(auth_config_id=nanoid, result=Result.FAILED, reason=fallback)


def _typed(value: object, kind: type[T]) -> T:
    """``value`` if it is a ``kind``, else an empty one (a result body is read, not trusted)."""
    return value if isinstance(value, kind) else kind()
