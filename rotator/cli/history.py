"""``rotator history``: who rotated what, when, and what triggered it (newest first)."""

from __future__ import annotations

import time

import click

from rotator.cli.shared import nanoid_argument, open_runtime
from rotator.console.untrusted import plain

__all__ = ["history"]


@click.command()
@click.argument("nanoid", required=False, callback=nanoid_argument)
@click.option("--since", default=None, help="Only entries this recent: 90s, 15m, 24h, 7d, 2w.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Every field as JSON, newest first.")
def history(nanoid: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """The audit trail, newest first: when, auth config, outcome, Vault version, HTTP status,
    slug, request id and trigger (sweep, resync, cli, send_task, replay). Never a value."""
    from rotator.console.render import print_json
    from rotator.reports.history import newest_rows, parse_since

    try:
        since_s = None if since is None else parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    with open_runtime() as rt:
        rows = newest_rows(
            lambda before, oldest, count: rt.state.audit_newest(
                before=before, oldest=oldest, count=count
            ),
            nanoid=nanoid,
            since_s=since_s,
            now=time.time(),
            limit=limit,
        )
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    click.echo(
        f"{'when':<20} {'auth config':<24} {'outcome':<11} {'trigger':<9} {'vault':<5} "
        f"{'http':<4} {'slug':<28} request id"
    )
    for r in rows:
        click.echo(
            f"{r.at:<20} {plain(r.auth_config_id):<24} {plain(r.outcome):<11} "
            f"{plain(r.trigger):<9} {plain(r.vault_version or '-'):<5} "
            f"{plain(r.http_status or '-'):<4} {plain(r.error_slug or '-'):<28} "
            f"{plain(r.request_id or '-')}"
        )
    if not rows:
        click.echo("no audit entries" + (f" for {plain(nanoid)}" if nanoid else ""))
