"""The generated regions of the docs: where each lives and which function writes it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docgen.events import render_events
from docgen.layers import render_layers
from rotator.core.retry import render_table as render_retry_table
from rotator.settings.spec import render_table as render_settings_table

__all__ = ["REGIONS", "ROOT", "Region", "current", "rewrite", "stale"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Region:
    """One generated block: its name, the page that holds it and what renders it."""

    name: str
    page: str  # relative to the repository root
    render: Callable[[], str]

    def markers(self) -> tuple[str, str]:
        return f"<!-- BEGIN generated:{self.name} -->", f"<!-- END generated:{self.name} -->"


REGIONS = (
    Region("settings", "docs/reference/configuration.md", render_settings_table),
    Region("retry-policy", "docs/concepts/retries.md", render_retry_table),
    Region("log-events", "docs/observability.md", render_events),
    Region("layers", "docs/development/layout.md", render_layers),
)


def _span(region: Region, text: str) -> tuple[int, int]:
    begin, end = region.markers()
    found = re.search(re.escape(begin) + r"\n(.*?)" + re.escape(end), text, re.S)
    if found is None:
        raise LookupError(f"{region.page}: no {begin} ... {end} block")
    return found.start(1), found.end(1)


def current(region: Region) -> str:
    """The text now between the region's markers."""
    text = (ROOT / region.page).read_text(encoding="utf-8")
    start, stop = _span(region, text)
    return text[start:stop]


def _wanted(region: Region) -> str:
    return region.render().rstrip("\n") + "\n"


def stale(region: Region) -> bool:
    """True when the page's block is not what the code renders today."""
    return current(region) != _wanted(region)


def rewrite(region: Region) -> bool:
    """Write the rendered block into its page; say whether anything changed."""
    path = ROOT / region.page
    text = path.read_text(encoding="utf-8")
    start, stop = _span(region, text)
    new = text[:start] + _wanted(region) + text[stop:]
    path.write_text(new, encoding="utf-8")
    return new != text
