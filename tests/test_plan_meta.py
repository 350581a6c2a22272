"""The pure rule of `plan` from metadata: same binding, same version, same creation time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rotator.models import AppliedState, Binding, FieldMap, VersionMeta
from rotator.plan_meta import binding_fingerprint, same_binding, same_version

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
