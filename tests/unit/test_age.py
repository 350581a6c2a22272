"""The rotation policy's pure rules: durations, the maximum that applies, age and overdue."""

from __future__ import annotations

import pytest

from rotator.core.age import (
    MaxAge,
    credential_age,
    effective_max_age,
    is_overdue,
    parse_duration,
    show_duration,
)
from rotator.core.models import Binding
from rotator.core.plan_meta import binding_fingerprint
from rotator.rotation.bindings import parse_bindings
from rotator.settings.kinds import Duration, Invalid


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90d", 7776000.0),
        ("36h", 129600.0),
        ("30m", 1800.0),
        ("45s", 45.0),
        ("0", 0.0),
        (" 2S ", 2.0),
        ("1d", 86400.0),
    ],
)
def test_durations_parse_to_seconds(text: str, seconds: float) -> None:
    """Each documented form is its number of seconds; ``0`` is off."""
    assert parse_duration(text) == seconds
    assert Duration().parse(text) == seconds


@pytest.mark.parametrize("text", ["", "90", "d", "1.5d", "-1d", "01d", "1w", "1d2h", "0s", "1 d"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    """No bare numbers, fractions, signs, leading zeros, weeks or combinations: one clear rule."""
    with pytest.raises(ValueError, match="90d, 36h, 30m or 45s"):
        parse_duration(text)
    with pytest.raises(Invalid):
        Duration().parse(text)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0, "0"), (45, "45s"), (720, "12m"), (18180, "5h 3m"), (7869600, "91d 2h")],
)
def test_durations_show_in_two_units_at_most(seconds: float | None, shown: str) -> None:
    assert show_duration(seconds) == shown


@pytest.mark.parametrize(
    ("binding", "secret", "expected"),
    [
        (None, None, MaxAge(100.0, "setting")),
        (None, "45s", MaxAge(45.0, "secret")),
        (None, "0", MaxAge(0.0, "secret")),
        (30.0, "45s", MaxAge(30.0, "binding")),
        (0.0, "45s", MaxAge(0.0, "binding")),
    ],
)
def test_the_binding_wins_then_the_secret_then_the_setting(
    binding: float | None, secret: str | None, expected: MaxAge
) -> None:
    """The operator's bindings file beats the secret's own metadata, which beats the setting."""
    assert effective_max_age(setting=100.0, binding=binding, secret=secret) == expected


def test_a_secret_max_age_that_is_no_duration_is_ignored_and_named() -> None:
    """Untrusted metadata: a bad value falls back to the setting, and the row says why."""
    got = effective_max_age(setting=100.0, binding=None, secret="soon\x1b[2J")
    assert (got.seconds, got.source) == (100.0, "setting")
    assert got.problem is not None and "rotator.max_age" in got.problem


NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


@pytest.mark.parametrize(
    ("created", "age"),
    [
        ("2027-01-15T07:59:00.000000000Z", 60.0),
        ("2027-01-15T07:59:59.500000000Z", 0.5),
        ("2027-01-15T09:00:00.000000000Z", 0.0),  # from the future (clock skew): 0, not negative
        (None, None),
        ("yesterday", None),
        ("2027-13-01T00:00:00.000000000Z", None),
    ],
)
def test_age_counts_from_the_vault_creation_time(created: str | None, age: float | None) -> None:
    got = credential_age(created, now=NOW)
    assert got == pytest.approx(age) if age is not None else got is None


@pytest.mark.parametrize(
    ("age", "max_age", "overdue"),
    [
        (10.0, 0.0, False),
        (None, 0.0, False),
        (None, 5.0, None),
        (5.0, 5.0, False),
        (5.1, 5.0, True),
    ],
)
def test_overdue_only_beyond_the_maximum_and_unknown_without_an_age(
    age: float | None, max_age: float, overdue: bool | None
) -> None:
    assert is_overdue(age, max_age) == overdue


def test_a_binding_carries_max_age_and_rejects_a_bad_one() -> None:
    """``max_age = "2d"`` in the bindings file; a bad one is named with the binding; the payload's
    binding fingerprint does not change with the policy."""
    base = {"auth_config": "ac_x", "path": "p", "credentials": {"api_key": "k"}}
    [b] = parse_bindings({"binding": [{**base, "max_age": "2d"}]}, name="b.toml", mount="secret")
    assert b.max_age == 172800.0
    with pytest.raises(Exception, match=r"b.toml binding #1: max_age '2 days' must be a duration"):
        parse_bindings({"binding": [{**base, "max_age": "2 days"}]}, name="b.toml", mount="secret")
    plain = Binding("ac_x", "secret", "p", fields=b.fields, source=b.source)
    assert binding_fingerprint(plain, b"k" * 32) == binding_fingerprint(b, b"k" * 32)
