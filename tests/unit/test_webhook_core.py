"""The signed webhook's pure rules: which outcomes are announced, body, signature, backoff."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from rotator.core.states import Result
from rotator.core.webhook import (
    BODY_FIELDS,
    RETAIN,
    Notice,
    backoff,
    body_text,
    event_for,
    expired,
    sign,
)


@pytest.mark.parametrize(
    ("result", "quarantined", "event"),
    [
        (Result.SUCCEEDED, False, "succeeded"),
        (Result.FAILED, False, "failed"),
        (Result.FAILED, True, "quarantined"),
        (Result.UNVERIFIED, False, "unverified"),
        (Result.SKIPPED, False, None),
        (Result.RETRY_LATER, True, None),
    ],
)
def test_only_final_outcomes_are_announced(
    result: Result, quarantined: bool, event: str | None
) -> None:
    assert event_for(result, quarantined=quarantined) == event


def test_the_body_has_exactly_the_documented_fields_in_order() -> None:
    notice = Notice(
        "rotation.succeeded",
        "ac_1",
        "default",
        "secret/p",
        3,
        "succeeded",
        200,
        None,
        "req-1",
        "2027-01-15T08:00:00.000Z",
    )
    body = body_text(notice)
    assert list(json.loads(body)) == list(BODY_FIELDS)
    assert body.isascii() and " " not in body


def test_the_signature_is_githubs_form_over_the_raw_body() -> None:
    body = b'{"event":"rotation.succeeded"}'
    expected = hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert sign(b"key", body) == f"sha256={expected}"


@pytest.mark.parametrize(
    ("attempts", "rand", "wait"),
    [
        (1, 0.0, 1.0),
        (2, 0.0, 2.0),
        (4, 0.0, 8.0),
        (9, 0.0, 256.0),
        (10, 0.0, 300.0),
        (500, 0.0, 300.0),
        (1, 0.999, 1.0999),
        (0, 0.0, 1.0),
    ],
)
def test_backoff_doubles_from_one_second_to_five_minutes(
    attempts: int, rand: float, wait: float
) -> None:
    assert backoff(attempts, rand) == pytest.approx(wait)


def test_a_delivery_is_kept_for_more_than_a_day() -> None:
    assert RETAIN > 86400
    assert not expired(0.0, 86400.0 * 2)
    assert expired(0.0, RETAIN + 1)
