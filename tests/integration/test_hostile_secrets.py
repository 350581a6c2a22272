"""Careless or hostile Vault secrets are refused by name, never pushed; the others carry on."""

from __future__ import annotations

import io
import json

import pytest

from tests.helpers import Stack
from tests.procs import run_cli

LIVE = "LIVE-secret-value-1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"credentials": {"client_secret": ""}}, "credentials.client_secret is empty"),
        ({"credentials.client_secret": "   "}, "credentials.client_secret is empty"),
        (
            {"credentials": {"client_secret": "x-1"}, "credentials.client_secret": "x-2"},
            "credentials.client_secret is given twice",
        ),
    ],
    ids=["empty", "whitespace", "nested and flat collide"],
)
def test_an_empty_or_ambiguous_value_is_never_sent_and_the_live_secret_stays(
    stack: Stack, log_stream: io.StringIO, data: dict[str, object], message: str
) -> None:
    """A new version with an empty or doubly-given value fails by name (path, version, field);
    Composio keeps the live secret; another config in the same run is pushed."""
    stack.put("ac_empty1", {"credentials": {"client_secret": LIVE}})
    assert stack.rt.service.rotate("ac_empty1").result == "succeeded"
    stack.write("ac_empty1", data)
    stack.put("ac_fine1", {"credentials": {"client_secret": "FINE-secret-1"}})
    res = run_cli(stack.env, "rotate", "--all", "--inline", "--json")
    assert res.returncode == 1, res.stderr
    rows = {r["auth_config_id"]: r for r in json.loads(res.stdout)}
    bad = rows["ac_empty1"]
    assert bad["result"] == "failed" and bad["reason"] == "SecretFormatError"
    assert message in bad["error"] and "(version 2)" in bad["error"]
    assert rows["ac_fine1"]["result"] == "succeeded"
    assert stack.emu.credentials("ac_empty1") == {"client_secret": LIVE}
    assert len(stack.emu.patches("ac_empty1")) == 1
    assert "Traceback" not in res.stderr
