"""``rotator history``: who rotated what, when, and what triggered it (newest first).

The audit stream is Redis's, and Redis is not trusted: an entry rotator could not have written
(a time past year 9999, bytes that are not UTF-8) is a named problem with exit 2, never a
traceback or "unexpected ValueError".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from rotator.cli.errors import clip
from rotator.cli.shared import nanoid_argument, open_runtime
from rotator.console.untrusted import plain
from rotator.core.errors import PermanentError

if TYPE_CHECKING:  # the runtime (Celery, hvac, httpx) is imported when a command runs
    from rotator.runtime import Runtime

__all__ = ["history"]

LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the latest time a row can show
Entries = list[tuple[str, dict[str, str]]]


def _checked_pages(rt: Runtime) -> Callable[[str, str, int], Entries]:
    """The audit stream's pages (XREVRANGE), each entry checked before it becomes a row."""
    from rotator.runtime import Keys

    def page(before: str, oldest: str, count: int) -> Entries:
        # entries that are not UTF-8 never get here: the store leaves each out (state.unreadable)
        entries = rt.state.audit_newest(before=before, oldest=oldest, count=count)
        for entry_id, _ in entries:
            ms = entry_id.partition("-")[0]
            if not (ms.isascii() and ms.isdigit()) or int(ms) > LAST_MS:
                raise PermanentError(
                    f"audit entry {clip(entry_id)} in {Keys.audit} has a time out of range "
                    "(after 9999-12-31): rotator did not write it",
                    suggested_fix=f"delete it: XDEL {Keys.audit} {clip(entry_id)}",
                )
        return entries

    return page


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
            _checked_pages(rt),
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
