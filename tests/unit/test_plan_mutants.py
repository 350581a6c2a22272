"""The pure core's edges that a mutation run of plan.py found untested (README, Testing).

Each test here kills mutants that survived ``tests/unit/test_plan.py``: whole error lines, the
fingerprint's canonical form, ``decide``'s defaults and reasons, the re-sync boundary.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from rotator.core.errors import SecretFormatError
from rotator.core.models import Binding, FieldMap, Payload, Secret
from rotator.core.plan import decide, extract_payload, fingerprint, sweep_decision
from tests.unit.test_plan import KEY, B, applied, sv

WHERE = "Vault secret secret/composio/auth_configs/ac_x1 (version 3)"
BOUND = Binding(
    auth_config_id="ac_x1",
    mount="secret",
    path="teams/x",
    fields=(FieldMap("credentials", "client_secret", "gh_secret"),),
    source="bindings.toml binding #1",
)


@pytest.mark.parametrize(
    ("binding", "data", "line"),
    [
        (B, {"credentials": None}, "credentials must be an object, got null"),
        (B, {"shared_credentials": None}, "shared_credentials must be an object, got null"),
        (
            B,
            {"credentials": {"client_secret": "a"}, "credentials.client_secret": "b"},
            "credentials.client_secret is given twice ('credentials.client_secret' and "
            "'credentials.client_secret'); keep one of them",
        ),
        (
            B,
            {"credentials": {"a": "b"}, "note": "x"},
            "unexpected key 'note' (expected credentials, shared_credentials, type, or "
            "credentials.<field> / shared_credentials.<field>)",
        ),
        (
            B,
            {"type": "default", "credentials": {"a": "b"}},
            "type 'default' (Composio-managed auth) cannot carry credentials; "
            "use shared_credentials or type 'custom'",
        ),
        (
            BOUND,
            {"other": "x"},
            "key 'gh_secret' (bound to credentials.client_secret by bindings.toml binding #1) "
            "is missing",
        ),
        (
            BOUND,
            {"gh_secret": " "},
            "client_secret is empty (an empty value would wipe the live credential)",
        ),
        (BOUND, {"gh_secret": 7}, "client_secret must be a string, got int"),
    ],
)
def test_every_secret_error_is_one_whole_line_naming_where_what_and_the_fix(
    binding: Binding, data: dict[str, object], line: str
) -> None:
    """The whole message, not a fragment: the path and version, the field, and what to do."""
    with pytest.raises(SecretFormatError) as info:
        extract_payload(binding, sv(data))
    assert str(info.value) == f"{WHERE}: {line}"


@pytest.mark.parametrize(
    "other",
    [
        {"credentials": {"client_secret": "s2"}},  # another value
        {"credentials": {"client_id": "s1"}},  # the same value under another field
        {"shared_credentials": {"client_secret": "s1"}},  # the same field in the other section
        {"credentials": {"client_secret": "s1"}, "shared_credentials": {"api_key": "k"}},
    ],
)
def test_fingerprint_changes_with_any_change_to_the_payload(other: dict[str, object]) -> None:
    """The HMAC covers the whole body: a different value, field or section is a new fingerprint."""
    base = extract_payload(B, sv({"credentials": {"client_secret": "s1"}}))
    assert fingerprint(base, KEY) != fingerprint(extract_payload(B, sv(other)), KEY)


def test_fingerprint_changes_with_the_auth_type() -> None:
    """The same shared credentials as 'custom' and as 'default' are different payloads."""
    custom = Payload(type="custom", shared_credentials={"api_key": Secret("k")})
    default = Payload(type="default", shared_credentials={"api_key": Secret("k")})
    assert fingerprint(custom, KEY) != fingerprint(default, KEY)


def test_fingerprint_is_hmac_sha256_over_the_sorted_compact_json_body() -> None:
    """The canonical form is part of the state in Redis: fingerprints stored by an earlier release
    stay valid (a new canonical form would re-push every auth config once)."""
    payload = extract_payload(
        B,
        sv({"shared_credentials.k": "v", "credentials": {"scopes": ["x", "y"], "a": "1"}}),
    )
    canonical = (
        b'{"credentials":{"a":"1","scopes":["x","y"]},"shared_credentials":{"k":"v"},'
        b'"type":"custom"}'
    )
    assert fingerprint(payload, KEY) == hmac.new(KEY, canonical, hashlib.sha256).hexdigest()


def test_decide_calls_a_new_version_a_change_unless_told_it_is_a_rollback() -> None:
    """``rollback`` defaults to False: a version change is reported as a change, not a rollback."""
    plan = decide(version=4, fingerprint="fp", applied=applied(3), force=False)
    assert (plan.action, plan.reason, plan.version) == ("push", "vault version changed: 3 -> 4", 4)


@pytest.mark.parametrize(
    ("fp", "state", "force", "reason"),
    [
        ("fp", applied(3), True, "forced"),
        ("fp", None, False, "never applied (or state lost)"),
        ("fp2", applied(3), False, "payload changed (binding or fingerprint key changed)"),
    ],
)
def test_decide_reasons_are_the_documented_sentences(
    fp: str, state: object, force: bool, reason: str
) -> None:
    """Each push reason is the whole sentence the audit stream and logs show."""
    plan = decide(version=3, fingerprint=fp, applied=state, force=force)  # type: ignore[arg-type]
    assert (plan.action, plan.reason) == ("push", reason)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (3599.9, ("in_step", False, "in step")),
        (3600.0, ("queue", True, "periodic re-sync")),  # due exactly at the interval
        (3600.1, ("queue", True, "periodic re-sync")),
    ],
)
def test_resync_is_due_once_the_interval_has_fully_passed(
    age: float, expected: tuple[str, bool, str]
) -> None:
    """An in-step config is re-synced when ``now - applied_at >= resync_interval``."""
    decision = sweep_decision(
        current_version=5,
        applied_version=5,
        applied_at=10_000.0,
        failures=0,
        error_version=None,
        paused=False,
        now=10_000.0 + age,
        resync_interval=3600.0,
        quarantine_after=3,
    )
    assert (decision.action, decision.force, decision.reason) == expected


def test_an_in_step_config_with_no_applied_time_is_resynced() -> None:
    """An in-step config with no recorded ``applied_at`` counts as due for a re-sync."""
    decision = sweep_decision(
        current_version=5,
        applied_version=5,
        applied_at=None,
        failures=0,
        error_version=None,
        paused=False,
        now=0.0,
        resync_interval=3600.0,
        quarantine_after=3,
    )
    assert (decision.action, decision.force, decision.reason) == ("queue", True, "periodic re-sync")
