"""The retry policy as a table: status, slug, headers and budgets -> one decision."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rotator.core.models import Decision, ResponseInfo, RetryAction
from rotator.core.retry import (
    RetryBudget,
    backoff,
    countdown,
    decide,
    parse_retry_after,
    render_table,
    requeue_delay,
)
from rotator.settings.load import Settings, retry_budget
from tests.paths import ROOT

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
BUDGET = RetryBudget()  # 3 attempts, 5 s in-call wait, 0.5 s base, 300 s cap
NOW_ = RetryAction.RETRY_NOW
LATER = RetryAction.RETRY_LATER
REAUTH = RetryAction.REAUTH
FAIL = RetryAction.FAIL


def one() -> float:
    return 1.0


def zero() -> float:
    return 0.0


def _info(status: int | None, **kw: object) -> ResponseInfo:
    return ResponseInfo(status=status, **kw)  # type: ignore[arg-type]


def _decide(info: ResponseInfo, **kw: object) -> Decision:
    args: dict[str, object] = {
        "attempt": 1,
        "budget": BUDGET,
        "key_refreshable": True,
        "reauthed": False,
        "rand": one,
    }
    args.update(kw)
    return decide(info, **args)  # type: ignore[arg-type]


Row = tuple[str, ResponseInfo, dict[str, object], RetryAction, float]


def _override_row(action: RetryAction, status: int, expected: RetryAction, delay: float) -> Row:
    kwargs: dict[str, object] = {"overrides": {"Tool_Flaky": action}}
    name = f"override {action.value} on {status}"
    return (name, _info(status, slug="Tool_Flaky"), kwargs, expected, delay)


# (id, info, decide kwargs, expected action, expected delay)
RULES: list[Row] = [
    # transient statuses, first attempt: full-jitter backoff base * 2**0 (rand=1 -> 0.5 s)
    *(
        (f"{s} retries now", _info(s), {}, NOW_, 0.5)
        for s in (408, 409, 425, 429, 500, 502, 503, 504)
    ),
    ("503 second attempt doubles the backoff", _info(503), {"attempt": 2}, NOW_, 1.0),
    ("520 (other 5xx) retries", _info(520), {}, NOW_, 0.5),
    ("timeout retries", _info(None, failure="timeout"), {}, NOW_, 0.5),
    ("connection error retries", _info(None, failure="connect"), {}, NOW_, 0.5),
    ("dropped connection retries", _info(None, failure="protocol"), {}, NOW_, 0.5),
    # budgets
    # no server wait: the caller's requeue countdown (requeue_delay) decides, not the policy
    ("503 out of in-call attempts -> retry later", _info(503), {"attempt": 3}, LATER, 0.0),
    ("429 Retry-After 2 is slept in the call", _info(429, retry_after=2.0), {}, NOW_, 2.0),
    ("429 Retry-After 5 (= budget) in the call", _info(429, retry_after=5.0), {}, NOW_, 5.0),
    ("429 Retry-After 30 goes to the caller", _info(429, retry_after=30.0), {}, LATER, 30.0),
    ("429 huge Retry-After is capped", _info(429, retry_after=1e9), {}, LATER, 300.0),
    ("429 Retry-After 0 retries at once", _info(429, retry_after=0.0), {}, NOW_, 0.0),
    (
        "Retry-After with no attempts left goes to the caller as given",
        _info(503, retry_after=1.0),
        {"attempt": 3},
        LATER,
        1.0,
    ),
    ("503 honours Retry-After too", _info(503, retry_after=3.0), {}, NOW_, 3.0),
    # rate-limit slug whatever the status
    (
        "slug HTTP_TooManyRequests on 400 retries",
        _info(400, slug="HTTP_TooManyRequests"),
        {},
        NOW_,
        0.5,
    ),
    (
        "slug HTTP_TooManyRequests waits Retry-After",
        _info(400, slug="HTTP_TooManyRequests", retry_after=60.0),
        {},
        LATER,
        60.0,
    ),
    # auth
    ("401 with a refreshable key re-auths", _info(401), {}, REAUTH, 0.0),
    ("403 with a refreshable key re-auths", _info(403), {}, REAUTH, 0.0),
    ("401 after re-auth fails", _info(401), {"reauthed": True}, FAIL, 0.0),
    ("401 with a fixed key fails", _info(401), {"key_refreshable": False}, FAIL, 0.0),
    ("403 with a fixed key fails", _info(403), {"key_refreshable": False}, FAIL, 0.0),
    (
        "slug HTTP_Unauthorized on 400 re-auths",
        _info(400, slug="HTTP_Unauthorized"),
        {},
        REAUTH,
        0.0,
    ),
    # permanent
    *((f"{s} fails at once", _info(s), {}, FAIL, 0.0) for s in (400, 404, 410, 418, 422)),
    ("501 fails", _info(501), {}, FAIL, 0.0),
    ("505 fails", _info(505), {}, FAIL, 0.0),
    ("302 (redirects are not followed) fails", _info(302), {}, FAIL, 0.0),
    (
        "slug ConnectedAccount_BadRequest fails even on 503",
        _info(503, slug="ConnectedAccount_BadRequest"),
        {},
        FAIL,
        0.0,
    ),
    ("unknown slug on 503 falls back to status", _info(503, slug="Foo_Bar"), {}, NOW_, 0.5),
    ("unknown slug on 400 falls back to status", _info(400, slug="Foo_Bar"), {}, FAIL, 0.0),
    # x-should-retry
    ("x-should-retry true retries a 400", _info(400, should_retry=True), {}, NOW_, 0.5),
    ("x-should-retry true retries a 404", _info(404, should_retry=True), {}, NOW_, 0.5),
    ("x-should-retry false fails a 503", _info(503, should_retry=False), {}, FAIL, 0.0),
    (
        "x-should-retry false fails a 429 with Retry-After",
        _info(429, should_retry=False, retry_after=1.0),
        {},
        FAIL,
        0.0,
    ),
    (
        "x-should-retry true beats the slug table",
        _info(400, slug="ConnectedAccount_BadRequest", should_retry=True),
        {},
        NOW_,
        0.5,
    ),
    (
        "x-should-retry false beats the rate-limit slug",
        _info(429, slug="HTTP_TooManyRequests", should_retry=False),
        {},
        FAIL,
        0.0,
    ),
    # overrides (slug -> action from configuration) win over everything
    *(
        _override_row(action, status, expected, delay)
        for action, status, expected, delay in (
            (RetryAction.FAIL, 503, FAIL, 0.0),
            (RetryAction.RETRY_NOW, 400, NOW_, 0.5),
            (RetryAction.RETRY_LATER, 503, LATER, 0.0),  # no server wait
            (RetryAction.REAUTH, 400, REAUTH, 0.0),
        )
    ),
    (
        "override beats x-should-retry",
        _info(503, slug="Tool_Flaky", should_retry=False),
        {"overrides": {"Tool_Flaky": RetryAction.RETRY_NOW}},
        NOW_,
        0.5,
    ),
    (
        "override beats the slug table",
        _info(429, slug="HTTP_TooManyRequests"),
        {"overrides": {"HTTP_TooManyRequests": RetryAction.FAIL}},
        FAIL,
        0.0,
    ),
    (
        "override retry_now still respects the in-call budget",
        _info(400, slug="Tool_Flaky"),
        {"overrides": {"Tool_Flaky": RetryAction.RETRY_NOW}, "attempt": 3},
        LATER,
        0.0,
    ),
    (
        "override retry_later uses Retry-After when given",
        _info(503, slug="Tool_Flaky", retry_after=2.0),
        {"overrides": {"Tool_Flaky": RetryAction.RETRY_LATER}},
        LATER,
        2.0,
    ),
    (
        "override reauth with a fixed key fails",
        _info(400, slug="Tool_Flaky"),
        {"overrides": {"Tool_Flaky": RetryAction.REAUTH}, "key_refreshable": False},
        FAIL,
        0.0,
    ),
    (
        "an override for another slug changes nothing",
        _info(400, slug="Other_Slug"),
        {"overrides": {"Tool_Flaky": RetryAction.RETRY_NOW}},
        FAIL,
        0.0,
    ),
]


@pytest.mark.parametrize(
    ("info", "kwargs", "action", "delay"),
    [pytest.param(i, k, a, d, id=name) for name, i, k, a, d in RULES],
)
def test_decide_table(
    info: ResponseInfo, kwargs: dict[str, object], action: RetryAction, delay: float
) -> None:
    """Every rule of the policy gives the expected action and delay."""
    decision = _decide(info, **kwargs)
    assert decision.action is action
    assert decision.delay == pytest.approx(delay)
    assert decision.reason and len(decision.reason) < 120


@pytest.mark.parametrize(
    ("info", "kwargs", "expected"),
    [
        (_info(503), {}, "503 is transient; backoff 0.50s"),
        (
            _info(429, retry_after=30.0),
            {},
            "429 is rate limiting; Retry-After 30s exceeds in-call budget",
        ),
        (_info(503), {"attempt": 3}, "503 is transient; in-call attempts used up"),
        (_info(None, failure="timeout"), {}, "timeout is transient; backoff 0.50s"),
        (_info(400, slug="HTTP_BadRequest"), {}, "400 HTTP_BadRequest is not retryable"),
        (_info(401), {}, "401 is an auth failure; re-reading the API key"),
        (_info(401), {"reauthed": True}, "401 is an auth failure after re-reading the API key"),
        (_info(503, should_retry=False), {}, "503: x-should-retry false"),
        (
            _info(503, slug="Tool_Flaky"),
            {"overrides": {"Tool_Flaky": RetryAction.FAIL}},
            "503 Tool_Flaky: override fail",
        ),
    ],
)
def test_decision_reason_is_a_short_human_string(
    info: ResponseInfo, kwargs: dict[str, object], expected: str
) -> None:
    """The reason names the status/slug and the rule that applied."""
    assert _decide(info, **kwargs).reason == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"Retry-After": " 7 "}, 7.0),
        ({"Retry-After": format_datetime(NOW + timedelta(seconds=30), usegmt=True)}, 30.0),
        ({"Retry-After": format_datetime(NOW - timedelta(seconds=30), usegmt=True)}, 0.0),
        ({"Retry-After": "Wed, 25 Nov 2026 12:01:00 GMT"}, 60.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"retry-after-ms": "soon", "Retry-After": "9"}, 9.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": ""}, None),
        ({"Retry-After": "-5"}, None),
        ({"retry-after-ms": "-5"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "99999999"}, 99999999.0),
        ({}, None),
        ({"X-Other": "1"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    """Seconds, HTTP dates and milliseconds parse; garbage and negatives give None."""
    assert parse_retry_after(headers, now=NOW) == expected


def test_huge_retry_after_is_capped_by_decide() -> None:
    """A parsed Retry-After far beyond max_delay becomes a countdown of max_delay."""
    wait = parse_retry_after({"Retry-After": "99999999"}, now=NOW)
    decision = _decide(_info(429, retry_after=wait))
    assert (decision.action, decision.delay) == (LATER, 300.0)


def test_parse_retry_after_accepts_a_naive_now() -> None:
    """A naive ``now`` is taken as UTC rather than crashing on the date arithmetic."""
    date = format_datetime(NOW + timedelta(seconds=10), usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=NOW.replace(tzinfo=None)) == 10.0


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0)])
def test_backoff_full_jitter_bounds(attempt: int, ceiling: float) -> None:
    """rand=0 gives 0; rand=1 gives min(cap, base * 2**(attempt-1))."""
    assert backoff(attempt, base=0.5, cap=5.0, rand=zero) == 0.0
    assert backoff(attempt, base=0.5, cap=5.0, rand=one) == ceiling


def test_decide_uses_the_injected_rand_for_jitter() -> None:
    """With rand=0 an in-call retry waits 0 s, with rand=1 the whole backoff ceiling."""
    assert _decide(_info(503), rand=zero).delay == 0.0
    assert _decide(_info(503), rand=one).delay == 0.5


@given(
    attempt=st.integers(min_value=-3, max_value=10_000),
    r=st.floats(min_value=0.0, max_value=1.0),
)
def test_delays_stay_within_their_caps(attempt: int, r: float) -> None:
    """Whatever the attempt number, backoff stays in [0, cap] and countdown in (0, max_delay]."""
    assert 0.0 <= backoff(attempt, base=0.5, cap=5.0, rand=lambda: r) <= 5.0
    assert 0.0 < countdown(attempt, budget=BUDGET, rand=lambda: r) <= BUDGET.max_delay


def test_budget_from_settings() -> None:
    """The budget comes from the ROTATOR_RETRY_* settings."""
    s = Settings(
        vault_addr="https://vault.example",
        retry_in_call_attempts=5,
        retry_in_call_max_wait=2.0,
        retry_base_delay=0.1,
        retry_max_delay=60.0,
    )
    assert retry_budget(s) == RetryBudget(5, 2.0, 0.1, 60.0)


def test_render_table_lists_every_rule_in_precedence_order() -> None:
    """The Markdown table names override, x-should-retry, slugs and statuses, in that order."""
    table = render_table()
    order = [
        "ROTATOR_RETRY_SLUG_OVERRIDES",
        "x-should-retry: true",
        "HTTP_TooManyRequests",
        "HTTP_Unauthorized",
        "ConnectedAccount_BadRequest",
        "status 408, 409, 425, 429, 500, 502, 503, 504",
        "status 401, 403",
        "any other status",
    ]
    positions = [table.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert all(line.startswith("|") for line in table.splitlines() if line)


def test_the_docs_show_the_policy_table_verbatim() -> None:
    """The retries page contains render_table() exactly, so the documented policy is the code's."""
    page = ROOT / "docs/concepts/retries.md"
    assert page.is_file(), f"{page} is missing"
    assert render_table() in page.read_text(encoding="utf-8")


def test_policy_imports_no_io_library() -> None:
    """The policy is pure: importing it pulls in no HTTP, Vault, Redis or Celery client."""
    code = (
        "import sys, rotator.core.retry; "
        "print(sorted(m for m in ('httpx', 'hvac', 'redis', 'celery', 'structlog') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("retries", "low", "high"), [(0, 5.0, 10.0), (1, 10.0, 20.0), (2, 20.0, 40.0), (3, 40.0, 80.0)]
)
def test_requeue_delay_grows_from_the_first_requeue(retries: int, low: float, high: float) -> None:
    """With the defaults requeue n waits in [5 * 2**(n-1), 10 * 2**(n-1)] s: growth from n=1."""
    budget = RetryBudget()
    shortest = requeue_delay(retries, server_wait=None, earliest=None, budget=budget, rand=zero)
    longest = requeue_delay(retries, server_wait=None, earliest=None, budget=budget, rand=one)
    assert (shortest, longest) == (low, high)


def test_requeue_delay_honours_both_floors_and_the_cap() -> None:
    """Never sooner than the server's wait or rotator's own next slot; never over max_delay."""
    budget = RetryBudget()
    assert requeue_delay(0, server_wait=120.0, earliest=None, budget=budget, rand=one) == 120.0
    assert requeue_delay(0, server_wait=None, earliest=60.0, budget=budget, rand=one) == 60.0
    assert requeue_delay(0, server_wait=1e9, earliest=None, budget=budget, rand=one) == 300.0
    assert requeue_delay(99, server_wait=None, earliest=None, budget=budget, rand=one) == 300.0
