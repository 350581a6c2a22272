"""The ``rotator`` commands. Exit codes: 0 ok, 1 a rotation (or check) failed, 2 usage/config."""

from __future__ import annotations

import contextvars
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import click

from rotator import __version__
from rotator.cli.check import check
from rotator.cli.errors import OneLineGroup
from rotator.cli.history import history
from rotator.cli.inventory import inventory
from rotator.cli.queued import queue_rotations
from rotator.cli.report import report  # ops: credential age (issue 25)
from rotator.cli.service import SERVICE_COMMANDS
from rotator.cli.shared import (
    EXIT_FAILED,
    EXIT_OK,
    open_runtime,
    parallel,
    pick_ids,
)
from rotator.console.render import (
    outcomes_json,
    print_json,
    print_outcomes,
    print_status,
    print_summary,
)
from rotator.console.untrusted import plain
from rotator.core.errors import RotatorError
from rotator.core.trigger import Trigger, triggered_by
from rotator.observability.logs import scrub
from rotator.rotation.catalog import ambiguous_error

if TYPE_CHECKING:  # the runtime (Celery, hvac, httpx) is imported when a command runs
    from rotator.core.models import AppliedState, Binding
    from rotator.runtime import Runtime

__all__ = ["cli", "main"]


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="rotator")
def cli() -> None:
    """Keep Composio auth configs' credentials in step with Vault KV v2."""


@cli.command()
@click.argument("nanoids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every auth config found in Vault and bindings.")
@click.option("--force", is_flag=True, help="Push even when Vault and Composio are in step.")
@click.option("--version", "version", type=click.IntRange(min=1), help="Push this older version.")
@click.option("--inline", is_flag=True, help="Rotate in this process instead of on a worker.")
@click.option("--wait", is_flag=True, help="Wait for the queued rotations and show outcomes.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds --wait waits.")
@click.option("--json", "as_json", is_flag=True, help="Print outcomes as JSON.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--verbose", "-v", is_flag=True, help="With --wait: a row for every config.")
@click.option(
    "--verify", is_flag=True, help="With --inline: read each config back after the PATCH."
)
def rotate(  # noqa: PLR0917  (click passes options positionally)
    nanoids: tuple[str, ...],
    all_: bool,
    force: bool,
    version: int | None,
    inline: bool,
    wait: bool,
    timeout: float,
    as_json: bool,
    concurrency: int,
    verbose: bool,
    verify: bool,
) -> None:
    """Rotate auth configs now (NANOIDs or --all): queued on the workers, or --inline."""
    if version is not None and (all_ or len(nanoids) != 1):
        raise click.UsageError("--version rolls back exactly one NANOID")
    started = time.monotonic()
    if verify and not inline:
        raise click.UsageError("--verify needs --inline (workers verify with ROTATOR_VERIFY=true)")
    if verify:
        os.environ["ROTATOR_VERIFY"] = "true"  # this process only: read by open_runtime
    with open_runtime() as rt:
        ids = pick_ids(rt, nanoids, all_)
        if inline:
            with triggered_by(Trigger.CLI):
                outcomes = parallel(
                    lambda i: rt.service.rotate(i, force=force, version=version), ids, concurrency
                )
        else:
            queued = queue_rotations(
                ids, force=force, version=version, wait=wait, timeout=timeout, trigger=Trigger.CLI
            )
            if queued is None:
                sys.exit(EXIT_OK)
            outcomes = queued
    if as_json:
        print_json(outcomes_json(outcomes))
    elif inline:
        print_outcomes(outcomes)
    else:
        print_summary(outcomes, time.monotonic() - started, verbose=verbose)
    sys.exit(EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED)


def _print_plan(rows: list[dict[str, object]], *, verbose: bool) -> None:
    """The summary first; then the ones to push and the invalid ones (every row: verbose)."""
    n = Counter(str(r["action"]) for r in rows)
    click.echo(f"plan: {n['push']} to push, {n['skip']} in step, {n['error']} invalid")
    for r in rows:
        if verbose or r["action"] != "skip":
            click.echo(
                f"{plain(r['auth_config_id'] or '-'):<28} {r['action']:<6} "
                f"v{plain(r['version'] or '-'):<4} {plain(r['reason'])}"
            )


def _plan_row(
    rt: Runtime, nanoid: str, binding: Binding, applied: AppliedState | None
) -> dict[str, object]:
    try:
        p = rt.service.plan(binding, applied)
    except RotatorError as exc:
        reason = scrub(str(exc))
        return {"auth_config_id": nanoid, "action": "error", "version": None, "reason": reason}
    return {"auth_config_id": nanoid, "action": p.action, "version": p.version, "reason": p.reason}


def _plan_rows(rt: Runtime, bindings: dict[str, Binding]) -> list[dict[str, object]]:
    """Every binding's row, in order, ``READS_IN_FLIGHT`` at a time. The stored states are read
    a slice at a time (one round trip per ``STORED_CHUNK``), each slice's Vault reads started
    before the next slice is read: Redis and Vault overlap instead of taking turns."""
    from rotator.runtime import READS_IN_FLIGHT, STORED_CHUNK

    ids, ctx = list(bindings), contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=max(1, min(READS_IN_FLIGHT, len(ids) or 1))) as pool:
        futures = []
        for at in range(0, len(ids), STORED_CHUNK):
            chunk = ids[at : at + STORED_CHUNK]
            stored = rt.state.stored(chunk)
            futures += [
                pool.submit(ctx.copy().run, _plan_row, rt, n, bindings[n], stored[n].applied)
                for n in chunk
            ]
        return [f.result() for f in futures]


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--verbose", "-v", is_flag=True, help="List the ones in step too.")
def plan(as_json: bool, verbose: bool) -> None:
    """Show what would be pushed and why; writes nothing."""
    with open_runtime() as rt:
        view = rt.catalog.view(fresh=True)
        rows = _plan_rows(rt, view.bindings)
        rows += [
            {
                "auth_config_id": nanoid,
                "action": "error",
                "version": None,
                "reason": str(ambiguous_error(nanoid, paths)),
            }
            for nanoid, paths in view.conflicts.items()
        ]
        rows += [
            {"auth_config_id": None, "action": "error", "version": None, "reason": p}
            for p in view.problems
        ]
    if as_json:
        print_json(rows)
    else:
        _print_plan(rows, verbose=verbose)
    sys.exit(EXIT_FAILED if any(r["action"] == "error" for r in rows) else EXIT_OK)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--watch", is_flag=True, help="A live view, refreshed from Redis and Vault.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between refreshes.")
@click.option("--iterations", type=int, default=None, hidden=True)
def status(as_json: bool, watch: bool, interval: float, iterations: int | None) -> None:
    """Per auth config: Vault version, applied version, state, last error, last success."""
    with open_runtime() as rt:
        if watch:
            from rotator.console.watch import watch_status

            watch_status(rt, interval=interval, iterations=iterations)
            return
        rows = rt.status_rows()
        breaker = rt.service.breaker.describe()
    if as_json:
        print_json([r.as_dict() for r in rows])
    else:
        print_status(rows)
        if breaker != "closed":
            click.echo(f"circuit breaker {breaker}")


@cli.command()
@click.option("--inline", is_flag=True, help="Rotate in this process instead of worker + beat.")
def demo(inline: bool) -> None:
    """Run the whole loop on a local stack: OpenBao, Redis, the Composio emulator, a worker
    and a beat; new Vault versions are written while it runs."""
    from rotator.devkit.demo.run import run_demo

    sys.exit(run_demo(inline=inline))


for _command in (*SERVICE_COMMANDS, check, history, inventory, report):
    cli.add_command(_command)


def main() -> None:
    cli()
