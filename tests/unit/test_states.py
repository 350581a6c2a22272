"""The state vocabularies are enums whose wire forms are the plain strings they replaced."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from rotator.console.render import COLOURS
from rotator.core.models import Outcome
from rotator.core.states import ErrorKind, Result, RowState, SweepAction

WIRE = {
    Result: ["succeeded", "skipped", "retry_later", "failed", "unverified"],
    ErrorKind: ["transient", "permanent", "exhausted", "unverified"],
    RowState: [
        "synced",
        "pending",
        "retrying",
        "failed",
        "unknown",
        "quarantined",
        "paused",
        "ambiguous",
        "unverified",
    ],
    SweepAction: ["queue", "in_step", "paused", "quarantined"],
}


@pytest.mark.parametrize("vocabulary", list(WIRE), ids=lambda v: v.__name__)
def test_each_member_serialises_as_its_old_string(vocabulary: type[Result]) -> None:
    """str(), f-strings (Redis values), json.dumps (results, JSON logs) all give the bare value."""
    for member, wire in zip(vocabulary, WIRE[vocabulary], strict=True):
        assert (str(member), f"{member}", json.dumps(member)) == (wire, wire, f'"{wire}"')


def test_an_outcome_as_json_is_byte_identical_to_the_string_form() -> None:
    """A task result (asdict -> JSON) reads exactly as before the enum."""
    typed = asdict(Outcome(auth_config_id="ac_1", result=Result.RETRY_LATER, reason="x"))
    assert json.dumps(typed) == json.dumps({**typed, "result": "retry_later"})


def test_an_outcomes_task_result_is_asdict_of_it_with_every_field_set() -> None:
    """``Outcome.as_dict`` (a batch's per-rotation result) is exactly ``asdict``: every field,
    in order, with the same values, so results read as they did."""
    full = Outcome(
        auth_config_id="ac_1",
        result=Result.FAILED,
        reason="r",
        vault_path="secret/p",
        vault_version=3,
        attempts=2,
        http_status=400,
        error_slug="Slug",
        request_id="req_1",
        server_wait=1.5,
        retry_in=2.5,
        duration_ms=12.0,
        error="e",
        suggested_fix="f",
    )
    for outcome in (full, Outcome(auth_config_id="ac_2", result=Result.SKIPPED, reason="x")):
        assert list(outcome.as_dict().items()) == list(asdict(outcome).items())


def test_ok_means_pushed_or_nothing_to_push() -> None:
    """The one "was it ok" rule: succeeded and skipped are ok, retry_later and failed are not."""
    assert [r.ok for r in Result] == [True, True, False, False, False]
    assert [k.final for k in ErrorKind] == [False, True, True, False]


def test_every_outcome_and_status_word_has_one_colour() -> None:
    """One colour map covers the whole outcome and status vocabulary (unknown stays plain)."""
    assert set(COLOURS) == (set(Result) | set(RowState)) - {RowState.UNKNOWN}
