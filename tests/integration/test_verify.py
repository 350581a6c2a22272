"""Verification after a push (ROTATOR_VERIFY / rotate --verify): a 2xx the read-back refutes
(disabled, unchanged, other values) fails permanently: dead-lettered, quarantined after the usual
count, never pushed at every sweep for ever. One that cannot be shown either way is
``unverified``: logged, audited, a status state, never recorded as applied, exit 1."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from rotator.core.models import Payload, Secret
from rotator.core.states import RowState
from rotator.devkit.emulator import Fault
from rotator.rotation.verify import check_view
from rotator.runtime import Runtime, build_runtime
from rotator.settings.load import load_settings
from tests.faults_support import events
from tests.helpers import Stack
from tests.procs import Procs, assert_cli_ok, run_cli, wait_until

FAILED_LINE = r"rotation\.failed"
SECRET = "S3CR3T-verify-0042"


@pytest.fixture
def verifying(stack: Stack) -> Iterator[Runtime]:
    rt = build_runtime(load_settings({**stack.env, "ROTATOR_VERIFY": "true"}))
    yield rt
    rt.close()


def _seed(stack: Stack, nanoid: str, *, enabled: bool = True) -> None:
    stack.emu.add_auth_config(nanoid, enabled=enabled)
    stack.write(nanoid, {"credentials": {"client_id": "cid-verify", "client_secret": SECRET}})


def _row_state(rt: Runtime, nanoid: str) -> str:
    return next(r.state for r in rt.status_rows() if r.auth_config_id == nanoid)


def test_a_verified_push_reads_back_before_and_after_and_logs_it(
    stack: Stack, verifying: Runtime, log_stream: io.StringIO
) -> None:
    """Verify on, a normal Composio: GET, PATCH, GET; succeeded; rotation.verified logged."""
    _seed(stack, "ac_v_ok")
    outcome = verifying.service.rotate("ac_v_ok")
    assert outcome.result == "succeeded", outcome
    methods = [e.method for e in stack.emu.journal if e.nanoid == "ac_v_ok"]
    assert methods == ["GET", "PATCH", "GET"]
    [line] = events(log_stream.getvalue(), "rotation.verified")
    assert line["auth_config_id"] == "ac_v_ok"
    assert verifying.state.get_applied("ac_v_ok") is not None


def test_a_fake_200_fails_permanently_is_dead_lettered_not_applied_and_exits_1(
    stack: Stack, log_stream: io.StringIO
) -> None:
    """A proxy's fake 200 (nothing applied): `rotate --inline --verify` exits 1 with the
    outcome failed (VerificationFailed: last_updated_at did not move forward), a
    rotation.failed line, an audit entry, a dead-letter entry and status `failed`; the applied
    state stays unrecorded."""
    _seed(stack, "ac_v_fake")
    stack.emu.inject(Fault(status=200, method="PATCH"), nanoid="ac_v_fake")
    res = run_cli(stack.env, "rotate", "ac_v_fake", "--inline", "--verify", "--json")
    assert_cli_ok(res, 1, allowed=[FAILED_LINE])
    [row] = json.loads(res.stdout)
    assert (row["result"], row["reason"]) == ("failed", "VerificationFailed")
    assert row["error"] == (
        "verification: last_updated_at did not move forward: the PATCH was not applied"
    )
    [line] = events(res.stderr, "rotation.failed")
    assert line["auth_config_id"] == "ac_v_fake"
    assert stack.emu.credentials("ac_v_fake") == {}  # the fake 200 applied nothing
    assert stack.rt.state.get_applied("ac_v_fake") is None
    audits = [e for _, e in stack.rt.state.audit_events() if e.get("auth_config_id") == "ac_v_fake"]
    assert [a.get("outcome") for a in audits] == ["failed"]
    [(_, dead)] = stack.rt.state.dead_letters()
    assert dead["auth_config_id"] == "ac_v_fake" and dead["reason"] == "VerificationFailed"
    assert _row_state(stack.rt, "ac_v_fake") == RowState.FAILED
    assert SECRET not in res.stdout + res.stderr


def test_a_disabled_config_fails_permanently(stack: Stack, verifying: Runtime) -> None:
    """The PATCH lands on a DISABLED auth config: failed for good (nobody can use it), with a
    dead-letter entry and one more consecutive failure towards quarantine."""
    _seed(stack, "ac_v_off", enabled=False)
    outcome = verifying.service.rotate("ac_v_off")
    assert (outcome.result, outcome.error) == (
        "failed",
        "verification: the auth config is not ENABLED on Composio",
    )
    assert outcome.http_status == 200 and outcome.request_id
    assert stack.rt.state.consecutive_failures("ac_v_off") == 1
    assert [e["auth_config_id"] for _, e in stack.rt.state.dead_letters()] == ["ac_v_off"]


def test_a_read_back_that_cannot_answer_stays_unverified(stack: Stack, verifying: Runtime) -> None:
    """The GET after the PATCH keeps failing with 503s: the push can be shown neither way, so
    it is unverified (the next sweep pushes again), not failed, and counts no failure."""
    _seed(stack, "ac_v_503")
    stack.emu.inject(Fault(method="GET"), nanoid="ac_v_503")  # the GET before passes
    stack.emu.inject(Fault(status=503, method="GET"), nanoid="ac_v_503", times=None)
    outcome = verifying.service.rotate("ac_v_503")
    assert (outcome.result, outcome.error) == (
        "unverified",
        "the auth config could not be read back (ComposioUnavailable)",
    )
    assert stack.rt.state.consecutive_failures("ac_v_503") == 0
    assert stack.rt.state.dead_letters() == []
    assert _row_state(stack.rt, "ac_v_503") == RowState.UNVERIFIED


def test_a_2xx_error_envelope_is_unverified_even_with_verify_off(stack: Stack) -> None:
    """Verify off: a 200 whose body is an error envelope is not a plain success."""
    _seed(stack, "ac_v_env")
    envelope = b'{"error": {"message": "upstream failed", "code": 500, "slug": "HTTP_Error"}}'
    stack.emu.inject(Fault(status=200, body=envelope, method="PATCH"), nanoid="ac_v_env")
    outcome = stack.rt.service.rotate("ac_v_env")
    assert (outcome.result, outcome.error) == (
        "unverified",
        "a 2xx whose body is an error envelope",
    )
    assert not outcome.ok


def test_a_failed_read_before_sends_nothing_and_a_failed_read_after_is_unverified(
    stack: Stack, verifying: Runtime
) -> None:
    """GET before -> 404: the rotation fails and no PATCH is sent. GET after -> 404: the PATCH
    was accepted but Composio refuses to show it: failed for good, like a refuted push."""
    _seed(stack, "ac_v_get")
    stack.emu.inject(Fault(status=404, method="GET"), nanoid="ac_v_get")
    first = verifying.service.rotate("ac_v_get")
    assert (first.result, first.http_status) == ("failed", 404)
    assert [e.method for e in stack.emu.journal if e.nanoid == "ac_v_get"] == ["GET"]
    stack.emu.inject(Fault(method="GET"), nanoid="ac_v_get")  # the GET before passes
    stack.emu.inject(Fault(status=404, method="GET"), nanoid="ac_v_get")
    second = verifying.service.rotate("ac_v_get")
    assert (second.result, second.error) == (
        "failed",
        "verification: the auth config could not be read back (HTTP 404)",
    )


def test_verify_needs_inline(stack: Stack) -> None:
    """--verify on the queued path is a usage error (workers use ROTATOR_VERIFY)."""
    assert_cli_ok(run_cli(stack.env, "rotate", "ac_x", "--verify"), 2)


_SENT = Payload(
    type="custom", credentials={"client_id": Secret("cid"), "client_secret": Secret("s")}
)
T0, T1 = "2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00.001Z"
_GOOD = {
    "id": "ac_1",
    "status": "ENABLED",
    "last_updated_at": T1,
    "credentials": {"client_id": "cid"},
}
_NO_TIME = "the auth config read back has no readable last_updated_at"
_NOT_MOVED = "last_updated_at did not move forward: the PATCH was not applied"


@pytest.mark.parametrize(
    ("change", "before", "problem"),
    [
        ({}, T0, None),
        ({"last_updated_at": "2026-03-01T11:00:00+01:00"}, "2026-03-01T09:59:59Z", None),
        ({"id": "ac_2"}, T0, "the auth config read back has another id"),
        ({"status": "DISABLED"}, T0, "the auth config is not ENABLED on Composio"),
        ({"status": None}, T0, "the auth config is not ENABLED on Composio"),
        ({"last_updated_at": None}, T0, _NO_TIME),
        ({"last_updated_at": "[red]yes"}, None, _NO_TIME),
        ({"last_updated_at": "2026-13-01T10:00:00Z"}, T0, _NO_TIME),
        ({"last_updated_at": T1 + "\n"}, T0, _NO_TIME),
        ({}, None, "the auth config read before the PATCH had no readable last_updated_at"),
        ({}, "yesterday", "the auth config read before the PATCH had no readable last_updated_at"),
        ({"last_updated_at": T0}, T0, _NOT_MOVED),
        ({"last_updated_at": T0}, T1, _NOT_MOVED),  # backwards
        ({"last_updated_at": "2026-03-01T11:00:00+02:00"}, T0, _NOT_MOVED),  # 09:00 UTC
        (
            {"credentials": {"client_id": "other"}},
            T0,
            "Composio shows other values for client_id than were sent",
        ),
        ({"credentials": "***"}, T0, "Composio shows other values for client_id than were sent"),
    ],
)
def test_check_view_table(change: dict[str, object], before: object, problem: str | None) -> None:
    """Each check of the read-back, one row each: last_updated_at must move forward from a
    readable RFC 3339 time to a later one (null then "[red]yes", equal or earlier times prove
    nothing); masked fields (client_secret) are not compared."""
    assert check_view({**_GOOD, **change}, "ac_1", _SENT, before) == problem


def test_with_a_worker_and_beat_a_refuted_push_is_quarantined_not_pushed_for_ever(
    stack: Stack, procs: Procs
) -> None:
    """ROTATOR_VERIFY=true, a real worker and beat sweeping every second. A DISABLED config,
    and one whose GETs answer last_updated_at null before each PATCH and "[red]yes" after it,
    are each PATCHed 3 times (ROTATOR_QUARANTINE_AFTER), dead-lettered each time, then
    quarantined: the next sweeps send them nothing. A normal config is verified, pushed once."""
    for nanoid in ("ac_vq_off", "ac_vq_red", "ac_vq_ok"):
        _seed(stack, nanoid, enabled=nanoid != "ac_vq_off")
    for _ in range(10):  # one pair of GET answers per push, more than quarantine allows
        for when in (None, "[red]yes"):
            body = {"id": "ac_vq_red", "status": "ENABLED", "last_updated_at": when}
            fault = Fault(status=200, body=json.dumps(body).encode(), method="GET")
            stack.emu.inject(fault, nanoid="ac_vq_red")
    procs.env = {**procs.env, "ROTATOR_VERIFY": "true"}
    procs.worker("w1")
    procs.beat("b1")
    bad = ("ac_vq_off", "ac_vq_red")

    def quarantined() -> set[str]:
        rows = stack.rt.status_rows()
        return {r.auth_config_id for r in rows if r.state == RowState.QUARANTINED}

    wait_until("both refuted configs quarantined", lambda: quarantined() == set(bad), timeout=60)
    sweeps = len(events(procs.output(), "sweep.completed"))
    wait_until(
        "five more sweeps",
        lambda: len(events(procs.output(), "sweep.completed")) >= sweeps + 5,
        timeout=60,
    )
    for nanoid in bad:
        assert len(stack.emu.patches(nanoid)) == 3, nanoid
        gets = [e for e in stack.emu.journal if e.method == "GET" and e.nanoid == nanoid]
        assert len(gets) == 6, nanoid
    assert len(stack.emu.patches("ac_vq_ok")) == 1
    assert stack.emu.credentials("ac_vq_ok") == {"client_id": "cid-verify", "client_secret": SECRET}
    dead = [e["auth_config_id"] for _, e in stack.rt.state.dead_letters()]
    assert sorted(dead) == sorted(bad * 3)
    assert SECRET not in procs.output()
    procs.assert_clean(allowed=[FAILED_LINE])
