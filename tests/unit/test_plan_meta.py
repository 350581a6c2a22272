"""The pure rules of metadata alone: `plan` (the same binding, version and creation time) and
the sweep (the same version number created at another time is a new secret)."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest

from rotator.core.models import AppliedState, Binding, FieldMap, Plan, SecretVersion, VersionMeta
from rotator.core.plan import (
    SweepDecision,
    decide,
    extract_payload,
    fingerprint,
    quarantined,
    sweep_decision,
)
from rotator.core.plan_meta import (
    BINDING_RULES,
    binding_fingerprint,
    recreated,
    same_binding,
    same_version,
)
from rotator.core.states import SweepAction
from rotator.vault.timestamps import canonical_time

KEY = b"k" * 32
BASE = Binding(
    "ac_meta1", "secret", "p/ac_meta1", "custom", (FieldMap("credentials", "client_secret", "a"),)
)
CREATED = "2026-12-02T02:00:00.123456789Z"


def _applied(**over: object) -> AppliedState:
    fields: dict[str, object] = {
        "version": 3,
        "fingerprint": "f",
        "applied_at": 1.0,
        "binding": binding_fingerprint(BASE, KEY),
        "vault_created": CREATED,
    }
    return AppliedState(**{**fields, **over})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "other",
    [
        replace(BASE, auth_config_id="ac_meta2"),
        replace(BASE, mount="kv"),
        replace(BASE, path="p/other"),
        replace(BASE, type="default"),
        replace(BASE, type=None),
        replace(BASE, fields=()),
        replace(BASE, fields=(FieldMap("shared_credentials", "client_secret", "a"),)),
        replace(BASE, fields=(FieldMap("credentials", "client_id", "a"),)),
        replace(BASE, fields=(FieldMap("credentials", "client_secret", "b"),)),
        replace(BASE, fields=(*BASE.fields, FieldMap("credentials", "client_id", "c"))),
    ],
)
def test_every_part_of_a_binding_that_shapes_the_payload_changes_its_fingerprint(
    other: Binding,
) -> None:
    assert binding_fingerprint(other, KEY) != binding_fingerprint(BASE, KEY)
    assert not same_binding(_applied(), binding_fingerprint(other, KEY))


def test_where_a_binding_came_from_does_not_change_its_fingerprint() -> None:
    """A discovered binding moved into the bindings file unchanged yields the same payload."""
    moved = replace(BASE, source="bindings file")
    assert binding_fingerprint(moved, KEY) == binding_fingerprint(BASE, KEY)
    assert same_binding(_applied(), binding_fingerprint(moved, KEY))


def test_the_binding_fingerprint_is_keyed_and_a_hex_digest() -> None:
    fp = binding_fingerprint(BASE, KEY)
    assert fp != binding_fingerprint(BASE, b"x" * 32)
    assert len(fp) == 64 and int(fp, 16) >= 0


def test_a_state_without_a_binding_fingerprint_is_never_the_same_binding() -> None:
    assert not same_binding(_applied(binding=None), binding_fingerprint(BASE, KEY))


def test_the_same_version_needs_the_same_number_and_the_same_creation_time() -> None:
    assert same_version(_applied(), VersionMeta(3, CREATED))
    assert not same_version(_applied(), VersionMeta(4, CREATED))
    assert not same_version(_applied(), VersionMeta(2, CREATED))
    assert not same_version(_applied(), VersionMeta(3, "2026-12-02T02:00:01.000000000Z"))
    assert not same_version(_applied(), VersionMeta(3, None))
    assert not same_version(_applied(vault_created=None), VersionMeta(3, None))
    assert not same_version(_applied(vault_created=None), VersionMeta(3, CREATED))


def test_recreated_needs_two_known_creation_times_that_differ() -> None:
    assert recreated(CREATED, "2026-12-02T03:00:00.000000001Z")
    assert not recreated(CREATED, CREATED)
    assert not recreated(None, CREATED)
    assert not recreated(CREATED, None)
    assert not recreated(None, None)


def _swept(**over: object) -> SweepDecision:
    args: dict[str, object] = {
        "current_version": 1,
        "applied_version": 1,
        "applied_at": 100.0,
        "failures": 0,
        "error_version": None,
        "paused": False,
        "now": 200.0,
        "resync_interval": 0.0,
        "quarantine_after": 3,
        "current_created": CREATED,
        "applied_created": CREATED,
    }
    return sweep_decision(**{**args, **over})  # type: ignore[arg-type]


def test_the_sweep_queues_a_secret_written_again_at_the_applied_number() -> None:
    """Same number, another creation time: a new secret, queued (not forced: a pause still
    holds it; ``decide`` pushes it even with the same payload)."""
    d = _swept(current_created="2026-12-02T03:00:00.000000001Z")
    assert d == SweepDecision(SweepAction.QUEUE, False, "vault secret re-created at version 1")
    assert _swept().action is SweepAction.IN_STEP
    assert _swept(applied_created=None).action is SweepAction.IN_STEP  # an older state
    assert _swept(current_created=None).action is SweepAction.IN_STEP
    moved = _swept(current_version=2, current_created="2026-12-02T03:00:00.000000001Z")
    assert moved == SweepDecision(SweepAction.QUEUE, False, "vault version 1 -> 2")


# Golden vectors. `plan` trusts an applied state whose binding fingerprint matches to mean "the
# same payload": if extract_payload would now build another payload from the same (binding,
# data), BINDING_RULES must be bumped so that every such state is read again. A change to either
# side alone fails here.
DISCOVERED = Binding("ac_meta2", "secret", "p/ac_meta2")
GOLDEN = {
    "rules": "1",
    "bound": "3d280643b46413d6931f63c7854e0c438454b52d98c2496f34e9ae9fa629ee0d",
    "discovered": "b600d8356bd7dd327234d865970904b27c52e51779eff42dcdb329ec75d04298",
    "payload discovered": "6341616e7cf20b03aa8481f03be5a982814308ee4cfb46a0b1df134c1060b429",
    "payload bound": "641c5919cd0f27945023bb6906362a55fb90b704590dac3ff6c3dfae7e097c97",
}


def test_golden_binding_fingerprints_and_payloads_change_only_with_binding_rules() -> None:
    data = {
        "type": "custom",
        "credentials": {"client_id": "golden-id", "client_secret": "golden-secret"},
        "credentials.scopes": ["a", "b"],
    }
    discovered = extract_payload(DISCOVERED, SecretVersion("secret/p/ac_meta2", 3, data))
    bound = extract_payload(BASE, SecretVersion("secret/p/ac_meta1", 3, {"a": "golden-bound"}))
    assert {
        "rules": BINDING_RULES,
        "bound": binding_fingerprint(BASE, KEY),
        "discovered": binding_fingerprint(DISCOVERED, KEY),
        "payload discovered": fingerprint(discovered, KEY),
        "payload bound": fingerprint(bound, KEY),
    } == GOLDEN


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("2026-12-02T02:24:06.945319214Z", "2026-12-02T02:24:06.945319214Z"),
        ("2026-12-02T02:24:06Z", "2026-12-02T02:24:06.000000000Z"),
        ("2026-12-02T02:24:06.5Z", "2026-12-02T02:24:06.500000000Z"),
        ("2026-12-02T04:24:06.5+02:00", "2026-12-02T02:24:06.500000000Z"),
        ("2026-12-01T23:24:06.5-03:00", "2026-12-02T02:24:06.500000000Z"),
        ("2026-13-02T02:24:06Z", None),
        ("2026-12-02T02:24:06.1234567890Z", None),
        ("2026-12-02 02:24:06Z", None),
        ("2026-12-02T02:24:06", None),
        ("", None),
        (None, None),
        (1733106246, None),
    ],
)
def test_a_creation_time_is_compared_and_stored_only_in_one_canonical_form(
    raw: object, canonical: str | None
) -> None:
    assert canonical_time(raw) == canonical


def test_decide_pushes_the_applied_number_created_again_even_with_the_same_payload() -> None:
    """The same version number and fingerprint, another creation time: a push; the same or an
    unknown creation time: in step, as before."""
    applied = _applied(fingerprint="fp")
    later = "2026-12-02T03:00:00.000000001Z"
    pushed = decide(version=3, fingerprint="fp", applied=applied, force=False, created=later)
    assert pushed == Plan("push", "vault secret re-created at version 3", 3)
    skip, same = Plan("skip", "in step at version 3", 3), CREATED
    assert decide(version=3, fingerprint="fp", applied=applied, force=False, created=same) == skip
    assert decide(version=3, fingerprint="fp", applied=applied, force=False) == skip
    old = _applied(fingerprint="fp", vault_created=None)
    assert decide(version=3, fingerprint="fp", applied=old, force=False, created=later) == skip


def test_quarantine_holds_the_same_version_only_not_one_created_again_at_its_number() -> None:
    later = "2026-12-02T03:00:00.000000001Z"

    held = functools.partial(
        quarantined, failures=3, error_version=1, current_version=1, quarantine_after=3
    )
    assert held(error_created=CREATED, current_created=CREATED)
    assert not held(error_created=CREATED, current_created=later)
    assert held(error_created=None, current_created=later)  # unknown: the number alone
    assert held(error_created=CREATED, current_created=None)
    assert held()
    d = _swept(failures=3, error_version=1, error_created=CREATED)
    assert d.action is SweepAction.QUARANTINED
    d = _swept(failures=3, error_version=1, error_created=CREATED, current_created=later)
    assert d == SweepDecision(SweepAction.QUEUE, False, "vault secret re-created at version 1")
