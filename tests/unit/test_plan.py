"""The pure core: payload extraction, fingerprints and the push/skip decision, as tables."""

from __future__ import annotations

import pytest

from rotator.core.errors import SecretFormatError
from rotator.core.models import AppliedState, Binding, FieldMap, Secret, SecretVersion
from rotator.core.plan import decide, extract_payload, fingerprint, needs_version, sweep_decision
from rotator.core.states import SweepAction

B = Binding(auth_config_id="ac_x1", mount="secret", path="composio/auth_configs/ac_x1")
KEY = b"k" * 32


def sv(data: dict[str, object], version: int = 3) -> SecretVersion:
    return SecretVersion(path="secret/composio/auth_configs/ac_x1", version=version, data=data)


@pytest.mark.parametrize(
    ("data", "body"),
    [
        (
            {"credentials": {"client_id": "id1", "client_secret": "s3cr3t-1"}},
            {"type": "custom", "credentials": {"client_id": "id1", "client_secret": "s3cr3t-1"}},
        ),
        (
            {"shared_credentials": {"api_key": "key-123"}, "type": "default"},
            {"type": "default", "shared_credentials": {"api_key": "key-123"}},
        ),
        (
            {"credentials.client_secret": "s3cr3t-2", "shared_credentials.api_key": "k-9"},
            {
                "type": "custom",
                "credentials": {"client_secret": "s3cr3t-2"},
                "shared_credentials": {"api_key": "k-9"},
            },
        ),
        (
            {"credentials": {"client_id": "a", "scopes": ["repo", "user"]}},
            {"type": "custom", "credentials": {"client_id": "a", "scopes": ["repo", "user"]}},
        ),
    ],
)
def test_discovery_shapes_become_the_flat_patch_body(
    data: dict[str, object], body: dict[str, object]
) -> None:
    """Nested objects, flat dotted keys and an optional type all give the API's flat body."""
    assert extract_payload(B, sv(data)).body() == body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "the secret is empty"),
        ({"type": "custom"}, "neither credentials nor shared_credentials"),
        ({"credentials": "not-an-object"}, "credentials must be an object, got str"),
        ({"credentials": {}}, "credentials is an empty object"),
        ({"credentials": {"client_secret": 12345}}, "credentials.client_secret must be a string"),
        ({"credentials": {"client_secret": None}}, "got null"),
        ({"shared_credentials": {"api_key": ["x"]}}, "api_key must be a string, got list"),
        ({"credentials": {"scopes": [1]}}, "scopes must be a string or a list of strings"),
        ({"type": "default", "credentials": {"a": "b"}}, "type 'default'"),
        ({"type": "weird", "credentials": {"a": "b"}}, "type must be 'custom' or 'default'"),
        ({"credentials": {"a": "b"}, "note": "x"}, "unexpected key 'note'"),
        ({"credentials.": "x"}, "has no field name"),
        ({"credentials": {"client_secret": ""}}, "credentials.client_secret is empty"),
        ({"credentials.client_secret": " \t\n"}, "credentials.client_secret is empty"),
        ({"shared_credentials": {"api_key": "  "}}, "shared_credentials.api_key is empty"),
        ({"credentials": {"scopes": []}}, "credentials.scopes is empty"),
        ({"credentials": {"scopes": ["repo", " "]}}, "credentials.scopes has an empty entry"),
        (
            {"credentials": {"client_secret": "a"}, "credentials.client_secret": "b"},
            "credentials.client_secret is given twice ('credentials.client_secret' and",
        ),
        (
            {"shared_credentials.api_key": "b", "shared_credentials": {"api_key": "a"}},
            "shared_credentials.api_key is given twice",
        ),
    ],
)
def test_malformed_secrets_raise_errors_naming_path_and_field(
    data: dict[str, object], message: str
) -> None:
    """Every malformed shape gives a SecretFormatError naming the Vault path, version and field."""
    with pytest.raises(SecretFormatError) as info:
        extract_payload(B, sv(data))
    assert message in str(info.value)
    assert "secret/composio/auth_configs/ac_x1 (version 3)" in str(info.value)


def test_malformed_secret_errors_never_contain_the_values() -> None:
    """A wrong-typed value is described by its type, never echoed."""
    with pytest.raises(SecretFormatError) as info:
        extract_payload(B, sv({"credentials": {"client_secret": ["hunter2-value"]}}))
    assert "hunter2-value" not in str(info.value) and "hunter2-value" not in repr(info.value)


def test_bindings_rename_vault_keys_to_composio_fields() -> None:
    """A bound secret maps Vault keys onto Composio fields and sections, with the bound type."""
    b = Binding(
        auth_config_id="ac_x1",
        mount="secret",
        path="teams/x",
        type="custom",
        fields=(
            FieldMap("credentials", "client_secret", "gh_secret"),
            FieldMap("shared_credentials", "api_key", "shared"),
        ),
        source="bindings.toml binding #1",
    )
    body = extract_payload(b, sv({"gh_secret": "s1", "shared": "s2", "extra": 1})).body()
    assert body == {
        "type": "custom",
        "credentials": {"client_secret": "s1"},
        "shared_credentials": {"api_key": "s2"},
    }
    with pytest.raises(SecretFormatError, match=r"'gh_secret' .*binding #1.* is missing"):
        extract_payload(b, sv({"shared": "s2"}))


def test_payload_repr_shows_no_values() -> None:
    """Payload and Secret reprs never show secret values."""
    p = extract_payload(B, sv({"credentials": {"client_secret": "topsecretvalue"}}))
    assert "topsecretvalue" not in repr(p)
    assert "topsecretvalue" not in repr(Secret("topsecretvalue"))
    assert "topsecretvalue" not in repr(sv({"credentials": {"client_secret": "topsecretvalue"}}))


def test_fingerprint_is_keyed_and_stable() -> None:
    """The same payload gives the same fingerprint under one key and another under another key."""
    p = extract_payload(B, sv({"credentials": {"b": "2", "a": "1"}}))
    q = extract_payload(B, sv({"credentials": {"a": "1", "b": "2"}}))
    assert fingerprint(p, KEY) == fingerprint(q, KEY)
    assert fingerprint(p, KEY) != fingerprint(p, b"other-key")
    assert len(fingerprint(p, KEY)) == 64


def applied(version: int, fp: str = "fp") -> AppliedState:
    return AppliedState(version=version, fingerprint=fp, applied_at=0.0)


@pytest.mark.parametrize(
    ("version", "fp", "state", "force", "rollback", "action", "reason"),
    [
        (3, "fp", None, False, False, "push", "never applied"),
        (3, "fp", applied(3), False, False, "skip", "in step at version 3"),
        (4, "fp", applied(3), False, False, "push", "vault version changed: 3 -> 4"),
        (3, "fp2", applied(3), False, False, "push", "payload changed"),
        (3, "fp", applied(3), True, False, "push", "forced"),
        (2, "fp0", applied(3), False, True, "push", "rollback: 3 -> 2"),
        (3, "fp", applied(3), False, True, "skip", "in step at version 3"),
    ],
)
def test_decide_table(
    version: int,
    fp: str,
    state: AppliedState | None,
    force: bool,
    rollback: bool,
    action: str,
    reason: str,
) -> None:
    """Push when never applied, forced, version or payload changed; otherwise skip."""
    plan = decide(version=version, fingerprint=fp, applied=state, force=force, rollback=rollback)
    assert plan.action == action
    assert reason in plan.reason
    assert plan.version == version


Q, IN_STEP = SweepAction.QUEUE, SweepAction.IN_STEP


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, (IN_STEP, False, "in step")),
        ({"applied_version": None}, (Q, False, "vault version None -> 5")),
        ({"applied_version": 4}, (Q, False, "vault version 4 -> 5")),
        ({"paused": True, "applied_version": 4}, (SweepAction.PAUSED, False, "paused")),
        (
            {"failures": 3, "error_version": 5, "applied_version": 4},
            (SweepAction.QUARANTINED, False, "quarantined"),
        ),
        (
            {"failures": 3, "error_version": 4, "applied_version": 4},
            (Q, False, "vault version 4 -> 5"),
        ),
        (
            {"failures": 2, "error_version": 5, "applied_version": 4},
            (Q, False, "vault version 4 -> 5"),
        ),
        ({"applied_at": -2600.0}, (Q, True, "periodic re-sync")),
        ({"applied_at": -2600.0, "resync_interval": 0}, (IN_STEP, False, "in step")),
        ({"current_version": None, "applied_version": None}, (Q, False, "never applied")),
        (
            {"current_version": None, "applied_version": None, "paused": True},
            (SweepAction.PAUSED, False, "paused"),
        ),
    ],
)
def test_sweep_decision_table(
    kw: dict[str, object], expected: tuple[SweepAction, bool, str]
) -> None:
    """The sweep queues changed versions and due re-syncs; skips paused, quarantined, in step,
    each with its own action (nothing parses the reason)."""
    args: dict[str, object] = {
        "current_version": 5,
        "applied_version": 5,
        "applied_at": 1000.0,
        "failures": 0,
        "error_version": None,
        "paused": False,
        "now": 1100.0,
        "resync_interval": 3600.0,
        "quarantine_after": 3,
    }
    args.update(kw)
    got = sweep_decision(**args)  # type: ignore[arg-type]
    assert (got.action, got.force, got.reason) == expected


@pytest.mark.parametrize(
    ("applied", "failures", "paused", "needed"),
    [
        (None, 0, False, False),  # never applied, never failed: queued whatever the version
        (None, 1, False, True),  # failed once: read (a Vault error stays a sweep error)
        (None, 3, False, True),  # quarantinable: the version decides
        (4, 2, False, True),  # applied and failing
        (4, 0, False, True),  # applied: the version decides
        (4, 0, True, False),  # paused: skipped whatever the version
        (None, 3, True, False),
    ],
)
def test_the_sweep_reads_a_version_only_when_it_decides_something(
    applied: int | None, failures: int, paused: bool, needed: bool
) -> None:
    """A first sync (never applied, never failed) and a paused config need no metadata
    read."""
    got = needs_version(applied_version=applied, failures=failures, paused=paused)
    assert got is needed
