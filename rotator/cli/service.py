"""The service commands: worker, beat, pause/resume, health, the dead letter."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from rotator.cli.deadline import HEALTH_TIMEOUT, Deadline, Stage, within
from rotator.cli.queued import queue_rotations
from rotator.cli.shared import checked_entry_id, nanoid_argument, open_runtime
from rotator.console.untrusted import plain
from rotator.core.errors import ConfigError, RotatorError
from rotator.core.models import Outcome
from rotator.core.trigger import Trigger, triggered_by
from rotator.observability.logs import scrub
from rotator.rotation.bindings import nanoid_problem

if TYPE_CHECKING:  # the runtime (Celery, hvac, httpx) is imported when a command runs
    from rotator.runtime import Runtime

__all__ = ["SERVICE_COMMANDS", "redis_primary"]

_PASS = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _celery(argv: list[str]) -> None:
    from rotator.worker.app import app

    app.start(argv)


@click.command(context_settings=_PASS)
@click.option("-c", "--concurrency", type=int, default=None, help="Threads (default 16).")
@click.pass_context
def worker(ctx: click.Context, concurrency: int | None) -> None:
    """Start a Celery worker (threads pool); extra arguments go to celery worker."""
    from rotator.worker.app import settings

    c = concurrency or settings().worker_concurrency
    _celery(
        ["--quiet", "worker", "--pool=threads", f"--concurrency={c}", "--without-mingle",
         "--without-gossip", *ctx.args]
    )  # fmt: skip


@click.command(context_settings=_PASS)
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Start beat with the Redis-locked scheduler (run two: one active, one standby)."""
    _celery(["--quiet", "beat", *ctx.args])


def _switch(nanoid: str | None, *, paused: bool) -> None:
    with open_runtime() as rt:
        (rt.state.pause if paused else rt.state.resume)(nanoid)
    click.echo(f"{'paused' if paused else 'resumed'} {nanoid or 'all auth configs'}")


@click.command()
@click.argument("nanoid", required=False, callback=nanoid_argument)
def pause(nanoid: str | None) -> None:
    """Stop the sweep pushing (everything, or one NANOID); --force rotations still run."""
    _switch(nanoid, paused=True)


@click.command()
@click.argument("nanoid", required=False, callback=nanoid_argument)
def resume(nanoid: str | None) -> None:
    """Undo ``pause`` (everything, or one NANOID)."""
    _switch(nanoid, paused=False)


def redis_primary(rt: Runtime) -> str:
    """The Redis probe of ``check`` and ``health``: a ping, then where writes go now (for a
    Sentinel group, the primary the sentinels name)."""
    return rt.redis_primary()


@click.command()
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=600),
    default=HEALTH_TIMEOUT,
    show_default=True,
    help="Overall deadline in seconds: what has not answered by then is unhealthy.",
)
def health(timeout: float) -> None:
    """Liveness for containers: Redis and Vault reachable (no Composio call), within --timeout
    (8 s: under the 10 s a container health check allows). Exit 0 or 1."""
    stage = Stage("redis")

    def probe() -> str:
        with open_runtime() as rt:
            primary = redis_primary(rt)
            stage.now = "vault"
            rt.vault.reachable()
        return primary

    try:
        primary = within(Deadline(timeout).left(), probe, what=stage, said=timeout)
    except ConfigError:
        raise  # a broken setting is exit 2 with one line (cli.errors), not "unhealthy"
    except RotatorError as exc:
        click.echo(f"unhealthy: {type(exc).__name__}: {scrub(str(exc))}")
        sys.exit(1)
    click.echo(f"healthy (redis {primary})")


@click.group()
def dlq() -> None:
    """The dead letter: permanent failures and exhausted retries."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True)
def dlq_list(as_json: bool) -> None:
    """List dead-letter entries (oldest first)."""
    from rotator.console.render import print_json

    with open_runtime() as rt:
        entries = rt.state.dead_letters()
    if as_json:
        print_json([{"id": i, **e} for i, e in entries])
        return
    for entry_id, e in entries:
        f = {k: plain(v) for k, v in e.items()}  # Redis holds Composio's untrusted text
        click.echo(
            f"{plain(entry_id)}  {f.get('auth_config_id', '?'):<24} "
            f"v{f.get('vault_version', '-'):<4} {f.get('http_status', '-'):<4} "
            f"{f.get('error_slug', '-'):<28} "
            f"{f.get('error', f.get('reason', ''))}"
        )


@dlq.command("replay")
@click.argument("entry_ids", nargs=-1)
@click.option("--inline", is_flag=True, help="Rotate in this process instead of queueing.")
@click.option("--wait", is_flag=True, help="Wait for the queued rotations: progress, summary.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds --wait waits.")
@click.option("--verbose", "-v", is_flag=True, help="With --wait: a row for every config.")
def dlq_replay(
    entry_ids: tuple[str, ...], inline: bool, wait: bool, timeout: float, verbose: bool
) -> None:
    """Rotate again the auth configs of these entries (all when none given); remove them. An
    entry whose auth config id is not a nanoid (a bad message's) is named and kept."""
    started = time.monotonic()
    wanted = {checked_entry_id(i) for i in entry_ids}
    with open_runtime() as rt:
        entries = [(i, e) for i, e in rt.state.dead_letters() if not wanted or i in wanted]
        entries = [(i, e) for i, e in entries if _replayable(i, e.get("auth_config_id"))]
        ids = list(
            dict.fromkeys(e["auth_config_id"] for _, e in entries if e.get("auth_config_id"))
        )
        outcomes = _replay(rt, ids, inline=inline, wait=wait, timeout=timeout)
        rt.state.remove_dead_letters([i for i, _ in entries])
    if outcomes is not None:
        from rotator.console.render import print_summary

        print_summary(outcomes, time.monotonic() - started, verbose=verbose)
    click.echo(f"replayed {len(ids)} auth config(s) from {len(entries)} entr(y/ies)")
    sys.exit(1 if outcomes and not all(o.ok for o in outcomes) else 0)


def _replayable(entry_id: str, nanoid: object) -> bool:
    """False, said on stderr, for an entry whose auth config id is not a nanoid (a bad
    message's, or one tampered with): kept, never queued. An entry with no id (a batch message
    that named none) is removed with the others, as it always was."""
    problem = nanoid_problem(nanoid) if nanoid else None
    if problem is not None:
        click.echo(f"rotator: kept {plain(entry_id)}: auth_config_id {problem}", err=True)
    return problem is None


def _replay(
    rt: Runtime, ids: list[str], *, inline: bool, wait: bool, timeout: float
) -> list[Outcome] | None:
    if not inline:
        return queue_rotations(
            ids, force=False, version=None, wait=wait, timeout=timeout, trigger=Trigger.REPLAY
        )
    with triggered_by(Trigger.REPLAY):
        return [rt.service.rotate(i) for i in ids]


SERVICE_COMMANDS = (worker, beat, pause, resume, health, dlq)
