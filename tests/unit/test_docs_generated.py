"""The generated parts of the docs are what the code renders today (``python -m docgen``)."""

from __future__ import annotations

import pytest

from docgen.events import WHEN, scan
from docgen.regions import REGIONS, Region, current, stale


@pytest.mark.parametrize("region", REGIONS, ids=[r.name for r in REGIONS])
def test_the_generated_page_is_not_stale(region: Region) -> None:
    """Each generated region (settings, retry policy, log events, layers) holds exactly what its
    generator writes from the code; a stale page names the command that rewrites it."""
    assert not stale(region), f"{region.page} ({region.name}) is stale: run python -m docgen"
    assert current(region).count("\n") >= 5


def test_every_logged_event_is_described_and_every_description_is_logged() -> None:
    """The log-event table has no event without its sentence, and no sentence for an event the
    code no longer logs."""
    found = set(scan())
    assert found - set(WHEN) == set()
    assert set(WHEN) - found == set()
    assert {"rotation.succeeded", "sweep.completed", "composio.circuit_open"} <= found


def test_the_scan_reads_level_and_fields_from_the_log_call() -> None:
    """The canonical line's fields come from the code: ``**log_fields(outcome)`` is expanded,
    and an event logged through a helper (``vault.login``) gets the helper's level."""
    events = scan()
    succeeded = events["rotation.succeeded"]
    assert succeeded.levels == {"info"}
    assert {"request_id", "vault_version", "duration_ms", "fields"} <= succeeded.fields
    assert events["vault.login"].levels == {"info"}
    assert {"checked", "queued", "duration_ms"} <= events["sweep.completed"].fields
