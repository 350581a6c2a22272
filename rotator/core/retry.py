"""The retry decision for one Composio answer: pure, table-driven, no I/O.

``decide`` first picks a *rule* (retry, re-auth, fail, retry later) by precedence, first match
wins::

    1. a slug override from configuration (ROTATOR_RETRY_SLUG_OVERRIDES)
    2. the x-should-retry response header
    3. the known-slug table (_SLUG_RULES)
    4. the status table (_STATUS_RULES, then 5xx / anything else)

then turns the rule into a ``Decision`` with the budgets of ``RetryBudget``: a wait the call can
afford (<= in_call_max_wait, attempts left) is slept in the call (RETRY_NOW); anything longer
goes back to the caller (RETRY_LATER) with the server's wait, if it gave one, as the delay.
``requeue_delay`` is the one place that decides the Celery countdown of a requeue.
``render_table`` prints the same tables as Markdown for the README.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType

from rotator.core.models import Decision, ResponseInfo, RetryAction

__all__ = [
    "RetryBudget",
    "backoff",
    "countdown",
    "decide",
    "parse_retry_after",
    "render_table",
    "requeue_delay",
]

_Rand = Callable[[], float]


@dataclass(frozen=True)
class RetryBudget:
    in_call_attempts: int = 3  # total attempts inside one call, for blips
    in_call_max_wait: float = 5.0  # the longest single sleep allowed inside a call
    base_delay: float = 0.5
    max_delay: float = 300.0  # cap for any delay handed to the caller; also caps Retry-After


class _Rule(enum.Enum):
    RETRY = "retry"
    AUTH = "auth"
    FAIL = "fail"
    LATER = "later"


_RULE_NAMES = {
    _Rule.RETRY: "retry",
    _Rule.AUTH: "re-auth",
    _Rule.FAIL: "fail",
    _Rule.LATER: "retry later",
}
_RULE_TEXT = {
    _Rule.RETRY: "Wait `retry-after-ms` or `Retry-After` (seconds or HTTP date, capped at "
    "`ROTATOR_RETRY_MAX_DELAY`) when given, else full-jitter backoff "
    "`rand() * min(ROTATOR_RETRY_IN_CALL_MAX_WAIT, ROTATOR_RETRY_BASE_DELAY * 2^(attempt-1))`. "
    "Sleep and retry in the call (RETRY_NOW) while attempt < `ROTATOR_RETRY_IN_CALL_ATTEMPTS` "
    "and the wait <= `ROTATOR_RETRY_IN_CALL_MAX_WAIT`; otherwise RETRY_LATER: raise "
    "`ComposioUnavailable` carrying the server's wait (if any); the task goes back to the queue "
    "with the requeue countdown (below)",
    _Rule.LATER: "RETRY_LATER at once, carrying the server's wait (if any)",
    _Rule.AUTH: "REAUTH: re-read the API key from Vault and retry once, when the key comes from "
    "Vault (`ROTATOR_COMPOSIO_KEY_PATH`) and was not re-read yet in this call; otherwise fail",
    _Rule.FAIL: "FAIL: raise `ComposioRejected` at once, no retry",
}
_OVERRIDE_RULES = {
    RetryAction.RETRY_NOW: _Rule.RETRY,
    RetryAction.RETRY_LATER: _Rule.LATER,
    RetryAction.REAUTH: _Rule.AUTH,
    RetryAction.FAIL: _Rule.FAIL,
}
_SLUG_RULES = {
    "HTTP_TooManyRequests": _Rule.RETRY,
    "HTTP_Unauthorized": _Rule.AUTH,
    "ConnectedAccount_BadRequest": _Rule.FAIL,
}
_STATUS_RULES = {
    408: _Rule.RETRY,
    409: _Rule.RETRY,
    425: _Rule.RETRY,
    429: _Rule.RETRY,
    500: _Rule.RETRY,
    502: _Rule.RETRY,
    503: _Rule.RETRY,
    504: _Rule.RETRY,
    401: _Rule.AUTH,
    403: _Rule.AUTH,
    501: _Rule.FAIL,
    505: _Rule.FAIL,
}
_RULE_WORDS = {
    _Rule.RETRY: "transient",
    _Rule.AUTH: "an auth failure",
    _Rule.FAIL: "not retryable",
    _Rule.LATER: "for later",
}
_NO_OVERRIDES: Mapping[str, RetryAction] = MappingProxyType({})


def backoff(attempt: int, *, base: float, cap: float, rand: _Rand) -> float:
    """Full jitter: a uniform wait in ``[0, min(cap, base * 2**(attempt-1))]``."""
    return rand() * min(cap, base * 2.0 ** min(max(attempt - 1, 0), 60))


def countdown(attempt: int, *, budget: RetryBudget, rand: _Rand) -> float:
    """The growth curve of requeues: equal jitter, never 0, <= max_delay.

    The ceiling is ``in_call_max_wait * 2**attempt`` (10 s for the first requeue with the
    defaults), and the wait is uniform in its upper half, so a retry later is never sooner than
    a retry now.
    """
    ceiling = min(budget.max_delay, budget.in_call_max_wait * 2.0 ** min(max(attempt, 0), 30))
    return ceiling / 2 + rand() * ceiling / 2


def requeue_delay(
    retries: int,
    *,
    server_wait: float | None,
    earliest: float | None,
    budget: RetryBudget,
    rand: _Rand,
) -> float:
    """The Celery countdown before requeue number ``retries + 1``: the only place it is decided.

    It grows from the first requeue on (5-10 s, 10-20 s, 20-40 s, ... with the defaults), is
    never sooner than the server's wait or rotator's own ``earliest`` next attempt, at least
    1 s, and capped at ``max_delay`` (well below the broker's visibility timeout).
    """
    grown = countdown(retries + 1, budget=budget, rand=rand)
    floor = max(server_wait or 0.0, earliest or 0.0)
    return max(1.0, min(max(grown, floor), budget.max_delay))


def _label(info: ResponseInfo) -> str:
    if info.status is None:
        return info.failure or "no response"
    return f"{info.status} {info.slug}" if info.slug else str(info.status)


def _status_rule(status: int | None) -> _Rule:
    if status is None:
        return _Rule.RETRY
    if status in _STATUS_RULES:
        return _STATUS_RULES[status]
    return _Rule.RETRY if 500 <= status <= 599 else _Rule.FAIL


def _words(info: ResponseInfo, rule: _Rule) -> str:
    if rule is _Rule.RETRY and (info.status == 429 or info.slug == "HTTP_TooManyRequests"):
        return "rate limiting"
    return _RULE_WORDS[rule]


def _classify(info: ResponseInfo, overrides: Mapping[str, RetryAction]) -> tuple[_Rule, str]:
    """Pick the rule by precedence: override > x-should-retry > slug table > status table."""
    label = _label(info)
    if info.slug is not None and info.slug in overrides:
        action = overrides[info.slug]
        return _OVERRIDE_RULES[action], f"{label}: override {action.value}"
    if info.should_retry is not None:
        rule = _Rule.RETRY if info.should_retry else _Rule.FAIL
        return rule, f"{label}: x-should-retry {str(info.should_retry).lower()}"
    rule = _SLUG_RULES.get(info.slug or "") or _status_rule(info.status)
    return rule, f"{label} is {_words(info, rule)}"


def _retry(
    info: ResponseInfo, why: str, attempt: int, budget: RetryBudget, rand: _Rand
) -> Decision:
    attempts_left = attempt < budget.in_call_attempts
    if info.retry_after is not None:
        wait = min(max(info.retry_after, 0.0), budget.max_delay)
        if attempts_left and wait <= budget.in_call_max_wait:
            return Decision(RetryAction.RETRY_NOW, wait, f"{why}; Retry-After {wait:g}s")
        if attempts_left:
            reason = f"{why}; Retry-After {wait:g}s exceeds in-call budget"
            return Decision(RetryAction.RETRY_LATER, wait, reason)
        return Decision(RetryAction.RETRY_LATER, wait, f"{why}; in-call attempts used up")
    if attempts_left:
        delay = backoff(attempt, base=budget.base_delay, cap=budget.in_call_max_wait, rand=rand)
        return Decision(RetryAction.RETRY_NOW, delay, f"{why}; backoff {delay:.2f}s")
    return Decision(RetryAction.RETRY_LATER, 0.0, f"{why}; in-call attempts used up")


def _later(info: ResponseInfo, why: str, budget: RetryBudget) -> Decision:
    """RETRY_LATER's delay is the server's wait (capped), 0 when it gave none."""
    wait = 0.0 if info.retry_after is None else min(max(info.retry_after, 0.0), budget.max_delay)
    return Decision(RetryAction.RETRY_LATER, wait, why)


def decide(
    info: ResponseInfo,
    *,
    attempt: int,
    budget: RetryBudget,
    key_refreshable: bool,
    reauthed: bool,
    overrides: Mapping[str, RetryAction] = _NO_OVERRIDES,
    rand: _Rand = random.random,
) -> Decision:
    """What to do after a non-2xx answer (or none) to attempt number ``attempt`` (1-based)."""
    rule, why = _classify(info, overrides)
    if rule is _Rule.RETRY:
        return _retry(info, why, attempt, budget, rand)
    if rule is _Rule.LATER:
        return _later(info, why, budget)
    if rule is _Rule.AUTH and key_refreshable and not reauthed:
        return Decision(RetryAction.REAUTH, 0.0, f"{why}; re-reading the API key")
    if rule is _Rule.AUTH:
        tail = "after re-reading the API key" if reauthed else "and the API key is not refreshable"
        return Decision(RetryAction.FAIL, 0.0, f"{why} {tail}")
    return Decision(RetryAction.FAIL, 0.0, why)


def _seconds(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_retry_after(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (preferred) or ``Retry-After`` (seconds or date).

    Garbage, negative or non-finite values give None; a date in the past gives 0. Large values
    are returned as they are: ``decide`` caps them at ``max_delay``.
    """
    lower = {k.lower(): v.strip() for k, v in headers.items()}
    if (ms := _seconds(lower.get("retry-after-ms", ""))) is not None:
        return ms / 1000.0
    raw = lower.get("retry-after", "")
    if (seconds := _seconds(raw)) is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


_OVERRIDE_TEXT = ", ".join(
    f"`{action.value}` = {_RULE_NAMES[rule]}" for action, rule in _OVERRIDE_RULES.items()
)
_PRECEDENCE: tuple[tuple[str, str], ...] = (
    ("slug listed in `ROTATOR_RETRY_SLUG_OVERRIDES`", f"as configured ({_OVERRIDE_TEXT})"),
    ("`x-should-retry: true` header", _RULE_NAMES[_Rule.RETRY]),
    ("`x-should-retry: false` header", _RULE_NAMES[_Rule.FAIL]),
    *((f"slug `{slug}`, any status", _RULE_NAMES[rule]) for slug, rule in _SLUG_RULES.items()),
    ("no answer: connection error, timeout, dropped connection", _RULE_NAMES[_Rule.RETRY]),
    *(
        (
            "status " + ", ".join(str(s) for s, r in sorted(_STATUS_RULES.items()) if r is rule),
            _RULE_NAMES[rule],
        )
        for rule in (_Rule.RETRY, _Rule.AUTH, _Rule.FAIL)
    ),
    ("any other 5xx", _RULE_NAMES[_Rule.RETRY]),
    ("any other status (400, 404, 422, other 4xx, 3xx)", _RULE_NAMES[_Rule.FAIL]),
)


def render_table() -> str:
    """The policy as Markdown: rules, first match wins, then what each rule does.

    The README shows this text verbatim (a test checks it).
    """
    lines = ["| # | When the answer is | Rule |", "|---|---|---|"]
    lines += [f"| {n} | {when} | {rule} |" for n, (when, rule) in enumerate(_PRECEDENCE, 1)]
    lines += ["", "| Rule | What rotator does |", "|---|---|"]
    lines += [f"| {_RULE_NAMES[rule]} | {text} |" for rule, text in _RULE_TEXT.items()]
    return "\n".join(lines) + "\n"
