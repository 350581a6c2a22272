"""The ``rotator`` commands. Exit codes: 0 ok, 1 a rotation (or check) failed, 2 usage/config."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from rotator.catalog import ambiguous_error
from rotator.cli.service import SERVICE_COMMANDS, redis_primary
from rotator.cli.shared import (
    EXIT_FAILED,
    EXIT_OK,
    open_runtime,
    parallel,
    pick_ids,
    queue_rotations,
)
from rotator.errors import RotatorError
from rotator.logs import scrub
from rotator.render import outcomes_json, print_json, print_outcomes, print_status
from rotator.runtime import Runtime

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rotator")
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
) -> None:
    """Rotate auth configs now (NANOIDs or --all): queued on the workers, or --inline."""
    if version is not None and (all_ or len(nanoids) != 1):
        raise click.UsageError("--version rolls back exactly one NANOID")
    with open_runtime() as rt:
        ids = pick_ids(rt, nanoids, all_)
        if inline:
            outcomes = parallel(
                lambda i: rt.service.rotate(i, force=force, version=version), ids, concurrency
            )
        else:
            queued = queue_rotations(ids, force=force, version=version, wait=wait, timeout=timeout)
            if queued is None:
                sys.exit(EXIT_OK)
            outcomes = queued
    if as_json:
        print_json(outcomes_json(outcomes))
    else:
        print_outcomes(outcomes)
    sys.exit(EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def plan(as_json: bool) -> None:
    """Show what would be pushed and why; writes nothing."""
    rows: list[dict[str, object]] = []
    with open_runtime() as rt:
        view = rt.catalog.view(fresh=True)
        for nanoid, binding in view.bindings.items():
            try:
                p = rt.service.plan(binding)
                rows.append(
                    {
                        "auth_config_id": nanoid,
                        "action": p.action,
                        "version": p.version,
                        "reason": p.reason,
                    }
                )
            except RotatorError as exc:
                rows.append(
                    {
                        "auth_config_id": nanoid,
                        "action": "error",
                        "version": None,
                        "reason": scrub(str(exc)),
                    }
                )
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
        for r in rows:
            click.echo(
                f"{r['auth_config_id'] or '-':<28} {r['action']:<6} "
                f"v{r['version'] or '-':<4} {r['reason']}"
            )
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
            from rotator.watch import watch_status

            watch_status(rt, interval=interval, iterations=iterations)
            return
        rows = rt.status_rows()
    if as_json:
        print_json([r.as_dict() for r in rows])
    else:
        print_status(rows)


def _composio_ok(rt: Runtime) -> str:
    info = rt.composio.ping()
    if info.status is None or not 200 <= info.status < 300:
        what = info.failure if info.status is None else f"HTTP {info.status} {info.slug or ''}"
        raise RotatorError(f"{rt.settings.composio_base_url}: {what} {info.message or ''}".strip())
    return f"{rt.settings.composio_base_url} answered {info.status}"


@cli.command()
def check() -> None:
    """Validate the configuration and reach Vault, Redis and Composio."""
    failed = False
    with open_runtime() as rt:
        probes: list[tuple[str, Callable[[], object]]] = [
            ("vault", rt.vault.check),
            ("redis", lambda: redis_primary(rt)),
            ("composio", lambda: _composio_ok(rt)),
            ("bindings", lambda: f"{len(rt.catalog.view(fresh=True).bindings)} auth configs"),
        ]
        for name, probe in probes:
            try:
                detail = probe()
                click.echo(f"ok    {name:<9} {scrub(str(detail))}")
            except Exception as exc:  # every probe reports; none stops the rest
                failed = True
                click.echo(f"FAIL  {name:<9} {type(exc).__name__}: {scrub(str(exc))}")
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@cli.command()
@click.option("--inline", is_flag=True, help="Rotate in this process instead of worker + beat.")
def demo(inline: bool) -> None:
    """Run the whole loop on a local stack: OpenBao, Redis, the Composio emulator, a worker
    and a beat; new Vault versions are written while it runs."""
    from rotator.sandbox.demo import run_demo

    sys.exit(run_demo(inline=inline))


for _command in SERVICE_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli()
