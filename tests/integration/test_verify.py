"""Verification after a push (ROTATOR_VERIFY / rotate --verify): a 2xx Composio does not show
is ``unverified``: logged, audited, a status state, never recorded as applied, exit 1."""

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
from tests.procs import assert_cli_ok, run_cli

UNVERIFIED_LINE = r"rotation\.unverified"
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


def test_a_fake_200_is_unverified_audited_not_applied_and_exits_1(
    stack: Stack, log_stream: io.StringIO
) -> None:
    """A proxy's fake 200 (nothing applied): `rotate --inline --verify` exits 1 with the
    outcome unverified, a rotation.unverified line, an audit entry and status `unverified`;
    the applied state stays unrecorded so the next sweep pushes again."""
    _seed(stack, "ac_v_fake")
    stack.emu.inject(Fault(status=200, method="PATCH"), nanoid="ac_v_fake")
    res = run_cli(stack.env, "rotate", "ac_v_fake", "--inline", "--verify", "--json")
    assert_cli_ok(res, 1, allowed=[UNVERIFIED_LINE])
    [row] = json.loads(res.stdout)
    assert row["result"] == "unverified"
    assert row["error"] == "last_updated_at did not move: the PATCH was not applied"
    [line] = events(res.stderr, "rotation.unverified")
    assert line["auth_config_id"] == "ac_v_fake"
    assert stack.emu.credentials("ac_v_fake") == {}  # the fake 200 applied nothing
    assert stack.rt.state.get_applied("ac_v_fake") is None
    audits = [e for _, e in stack.rt.state.audit_events() if e.get("auth_config_id") == "ac_v_fake"]
    assert [a.get("outcome") for a in audits] == ["unverified"]
    assert _row_state(stack.rt, "ac_v_fake") == RowState.UNVERIFIED
    assert SECRET not in res.stdout + res.stderr


def test_a_disabled_config_is_unverified(stack: Stack, verifying: Runtime) -> None:
    """The PATCH lands on a DISABLED auth config: unverified (nobody can use it)."""
    _seed(stack, "ac_v_off", enabled=False)
    outcome = verifying.service.rotate("ac_v_off")
    assert (outcome.result, outcome.error) == (
        "unverified",
        "the auth config is not ENABLED on Composio",
    )


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
    was accepted but cannot be shown, so the push is unverified."""
    _seed(stack, "ac_v_get")
    stack.emu.inject(Fault(status=404, method="GET"), nanoid="ac_v_get")
    first = verifying.service.rotate("ac_v_get")
    assert (first.result, first.http_status) == ("failed", 404)
    assert [e.method for e in stack.emu.journal if e.nanoid == "ac_v_get"] == ["GET"]
    stack.emu.inject(Fault(method="GET"), nanoid="ac_v_get")  # the GET before passes
    stack.emu.inject(Fault(status=404, method="GET"), nanoid="ac_v_get")
    second = verifying.service.rotate("ac_v_get")
    assert (second.result, second.error) == (
        "unverified",
        "the auth config could not be read back (HTTP 404)",
    )


def test_verify_needs_inline(stack: Stack) -> None:
    """--verify on the queued path is a usage error (workers use ROTATOR_VERIFY)."""
    assert_cli_ok(run_cli(stack.env, "rotate", "ac_x", "--verify"), 2)


_SENT = Payload(
    type="custom", credentials={"client_id": Secret("cid"), "client_secret": Secret("s")}
)
_GOOD = {
    "id": "ac_1",
    "status": "ENABLED",
    "last_updated_at": "T2",
    "credentials": {"client_id": "cid"},
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({}, None),
        ({"id": "ac_2"}, "the auth config read back has another id"),
        ({"status": "DISABLED"}, "the auth config is not ENABLED on Composio"),
        ({"status": None}, "the auth config is not ENABLED on Composio"),
        ({"last_updated_at": None}, "the auth config read back has no last_updated_at"),
        ({"last_updated_at": "T1"}, "last_updated_at did not move: the PATCH was not applied"),
        (
            {"credentials": {"client_id": "other"}},
            "Composio shows other values for client_id than were sent",
        ),
        ({"credentials": "***"}, "Composio shows other values for client_id than were sent"),
    ],
)
def test_check_view_table(change: dict[str, object], problem: str | None) -> None:
    """Each check of the read-back, one row each; masked fields (client_secret) are not compared."""
    assert check_view({**_GOOD, **change}, "ac_1", _SENT, "T1") == problem
