"""``rotator inventory``: which auth configs Composio has, against what rotator manages."""

from __future__ import annotations

import sys

import click

from rotator.cli.errors import exit_code
from rotator.cli.shared import EXIT_FAILED, EXIT_OK, open_runtime
from rotator.reports.inventory import Inventory

__all__ = ["inventory"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the inventory as JSON.")
def inventory(as_json: bool) -> None:
    """Composio's auth configs (every page, disabled ones too) against rotator's bindings:
    managed (with status), missing on Composio (exit 1), and unmanaged (nobody rotates)."""
    from rotator.console.render import print_json
    from rotator.core.errors import RotatorError
    from rotator.observability.logs import scrub
    from rotator.reports.inventory import classify, list_all

    with open_runtime() as rt:
        view = rt.catalog.view(fresh=True)
        bound = {n: b.vault_path for n, b in view.bindings.items()}
        bound |= {n: ", ".join(paths) for n, paths in view.conflicts.items()}
        try:
            listed, pages, problems = list_all(rt.composio)
        except RotatorError as exc:  # 2 for a garbled answer (permanent), 1 for an outage
            click.echo(f"rotator: inventory: {scrub(str(exc))}", err=True)
            sys.exit(exit_code(exc))
    inv = classify(listed, bound, pages=pages, problems=problems)
    if as_json:
        print_json(inv.as_dict())
    else:
        _print(inv)
    sys.exit(EXIT_OK if inv.ok else EXIT_FAILED)


def _print(inv: Inventory) -> None:
    click.echo(
        f"{len(inv.managed)} managed, {len(inv.missing)} missing on Composio, "
        f"{len(inv.unmanaged)} unmanaged ({inv.pages} pages read)"
    )
    for item, path in inv.managed:
        click.echo(
            f"managed    {item.id:<28} {item.status or '?':<8} "
            f"{item.last_updated_at or '-':<24} {path}"
        )
    for nanoid, path in inv.missing:
        click.echo(f"MISSING    {nanoid:<28} {'-':<8} {'-':<24} {path}")
    for item in inv.unmanaged:
        click.echo(
            f"unmanaged  {item.id:<28} {item.status or '?':<8} "
            f"{item.last_updated_at or '-':<24} (no Vault secret)"
        )
    for problem in inv.problems:
        click.echo(f"rotator: inventory: {problem}", err=True)
