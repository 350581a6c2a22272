"""``rotator report``: the compliance report of credential age, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import sys

import click

from rotator.cli.shared import open_runtime
from rotator.console.untrusted import plain

__all__ = ["report"]

_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell


def _cell(value: object) -> str:
    """A CSV cell: untrusted text made plain, and never a formula for a spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = plain(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _overdue(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


@click.command()
@click.option("--overdue", "only_overdue", is_flag=True, help="Only overdue (or unknown) ones.")
@click.option("--json", "as_json", is_flag=True, help="Every field as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Every field as CSV, with a header row.")
def report(only_overdue: bool, as_json: bool, as_csv: bool) -> None:
    """Compliance report: every auth config, its project, the age of the live credential (from
    its Vault version's creation time), the maximum age and its source, the last successful
    rotation, and overdue yes, no or unknown. Never a value."""
    from rotator.console.render import print_json
    from rotator.core.age import show_duration
    from rotator.reports.age import csv_fields

    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    with open_runtime() as rt:
        rows = rt.age_rows()
    if only_overdue:
        rows = [r for r in rows if r.overdue is not False]
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    if as_csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(csv_fields())
        out.writerows([_cell(v) for v in r.as_dict().values()] for r in rows)
        return
    click.echo(
        f"{'auth config':<24} {'project':<8} {'vault':<6} {'age':<8} {'max age':<13} "
        f"{'overdue':<8} last success"
    )
    for r in rows:
        policy = f"{show_duration(r.max_age_seconds)} ({r.max_age_source})"
        click.echo(
            f"{plain(r.auth_config_id):<24} {r.project:<8} {plain(r.vault_version or '-'):<6} "
            f"{show_duration(r.age_seconds):<8} {policy:<13} {_overdue(r.overdue):<8} "
            f"{plain(r.last_success or '-')}"
        )
        if r.problem:
            click.echo(f"  {plain(r.problem)}")
    overdue = sum(1 for r in rows if r.overdue)
    click.echo(f"{len(rows)} auth configs, {overdue} overdue")
