"""Leases: at a high budget one Redis call grants a process a few slots, within the burst.

A mass rotation at Composio's larger limits asked Redis once per PATCH, a round trip that cost
the workers more than any other piece of rotator's bookkeeping. At ``LEASE_FROM`` requests/s or
more the acquire script grants up to ``Budget.lease`` slots (no more than the GCRA's burst
tolerance still holds); the process's threads use them for ``LEASE_FOR`` s. Below that rate
every request still asks Redis, exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from rotator.core.models import ResponseInfo
from rotator.ratelimit.limiter import RateLimiter
from rotator.ratelimit.policy import LEASE_FOR, LEASE_FROM, Announced, budget
from rotator.state.store import Keys
from tests.clock_support import FakeClock
from tests.integration.test_ratelimit import hammer_processes, most_in_any_window


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


def _limiter(client: redis.Redis, rate: float, burst: int, clock: FakeClock) -> RateLimiter:
    """A limiter at ``rate``/s (the cap binds) on one fake clock for Redis time and leases."""
    lim = RateLimiter(client, share=1.0, cap=(rate, 1.0), burst=burst, clock=clock, monotonic=clock)
    lim.observe(ResponseInfo(status=200, rate_limit=10**9, rate_window=1.0))
    return lim


def _calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(stats.get(k, {}).get("calls", 0)) for k in ("cmdstat_evalsha", "cmdstat_eval"))


def _tat(client: redis.Redis) -> float:
    return float(client.hget(Keys.ratelimit, "tat") or 0)


@pytest.mark.parametrize(
    ("per_second", "lease"),
    [(1.0, 1), (100.0, 1), (LEASE_FROM - 1, 1), (LEASE_FROM, 4), (399.0, 7), (400.0, 8), (1e5, 8)],
)
def test_the_lease_grows_with_the_budget_from_lease_from_up_to_lease_most(
    per_second: float, lease: int
) -> None:
    far_more = Announced(10**9, 1.0)  # the cap binds
    assert budget(far_more, share=1.0, cap=(per_second, 1.0), burst=10).lease == lease
    assert budget(far_more, share=1.0, cap=(per_second, 1.0), burst=3).lease == min(lease, 3)


def test_one_redis_call_grants_a_lease_the_threads_then_use_without_asking(
    client: redis.Redis,
) -> None:
    """1,000/s, burst 10, idle: the first acquire takes 8 slots (the schedule moves 8 steps);
    the next 7 ask nothing; the 9th asks Redis again."""
    clock = FakeClock()
    lim = _limiter(client, 1000.0, 10, clock)
    step = lim.budget.spacing()[0] * 1e6  # GCRA's interval, microseconds
    assert lim.acquire() == 0.0
    assert _tat(client) == pytest.approx(clock.now * 1e6 + 8 * step, abs=2)
    before = _calls(client)
    assert [lim.acquire() for _ in range(7)] == [0.0] * 7
    assert _calls(client) == before
    assert lim.acquire() == 0.0
    assert _calls(client) == before + 1


def test_a_lease_is_never_more_than_the_burst_tolerance_left(client: redis.Redis) -> None:
    """Burst 3: an idle limiter grants 3 at once, and then one per interval, as before."""
    clock = FakeClock()
    lim = _limiter(client, 1000.0, 3, clock)
    step = lim.budget.spacing()[0] * 1e6
    assert [lim.acquire() for _ in range(3)] == [0.0] * 3
    assert _tat(client) == pytest.approx(clock.now * 1e6 + 3 * step, abs=2)
    assert lim.acquire() == pytest.approx(step / 1e6, abs=2e-6)  # refused: consumes nothing


def test_leased_slots_lapse_unused_after_lease_for(client: redis.Redis) -> None:
    clock = FakeClock()
    lim = _limiter(client, 1000.0, 10, clock)
    assert lim.acquire() == 0.0
    before = _calls(client)
    clock.now += LEASE_FOR * 1.01
    assert lim.acquire() == 0.0
    assert _calls(client) - before == 1  # the 7 left lapsed: Redis was asked


def test_an_answer_that_slows_rotator_down_drops_the_lease(client: redis.Redis) -> None:
    """A 429 with Retry-After: the next request waits for the hold, lease or not."""
    clock = FakeClock()
    lim = _limiter(client, 1000.0, 10, clock)
    assert lim.acquire() == 0.0
    lim.observe(ResponseInfo(status=429, retry_after=0.5, rate_window=1.0))
    assert lim.acquire() == pytest.approx(0.5, abs=1e-3)


def test_below_lease_from_every_request_asks_redis(client: redis.Redis) -> None:
    clock = FakeClock()
    lim = _limiter(client, LEASE_FROM / 2, 10, clock)  # burst 5: 5% of 100
    assert lim.acquire() == 0.0
    before = _calls(client)
    assert [lim.acquire() for _ in range(3)] == [0.0] * 3
    assert _calls(client) - before == 3


def test_the_budget_holds_across_four_processes_with_leases(
    redis_url: str, client: redis.Redis
) -> None:
    """32 threads in 4 processes for 2 s at 400/s (leases of 8), burst 10: in any second at
    most the budget, burst included, although a slot is spent up to LEASE_FOR after it was
    granted (the spacing holds that much of the budget back); most of the budget used."""
    rate, burst, seconds = 400.0, 10, 2.0
    key = "rotator:ratelimit:lease-procs"
    RateLimiter(client, share=1.0, cap=(rate, 1.0), burst=burst, key=key).observe(
        ResponseInfo(status=200, rate_limit=10**9, rate_window=1.0)
    )
    grants = hammer_processes(redis_url, key, rate, burst, seconds)
    assert most_in_any_window(grants, 1.0) <= rate + burst
    # lower bound: leases waste little (60%: 32 threads starve for CPU on a loaded 2-core
    # machine; slots lapsing unused in numbers would show here)
    assert len(grants) >= 0.6 * rate * seconds


def test_with_leases_the_spacing_holds_back_lease_for_of_the_budget() -> None:
    """A slot spent LEASE_FOR after its grant lands in the next window: the GCRA's interval is
    computed on the budget less its LEASE_FOR seconds' worth. Below LEASE_FROM, as before."""
    far_more = Announced(10**9, 1.0)
    fast = budget(far_more, share=1.0, cap=(1000.0, 1.0), burst=10)
    assert fast.spacing() == pytest.approx((1 / (1000 - 50 - 10 + 1), 9 / (1000 - 50 - 10 + 1)))
    slow = budget(far_more, share=1.0, cap=(100.0, 1.0), burst=5)
    assert slow.spacing() == pytest.approx((1 / (100 - 5 + 1), 4 / (100 - 5 + 1)))


def test_learning_a_new_limit_drops_the_lease(client: redis.Redis) -> None:
    """An answer announcing another limit changes the budget: the slots leased under the old
    one are not used; the next request asks Redis."""
    clock = FakeClock()
    lim = RateLimiter(client, share=0.5, burst=10, clock=clock, monotonic=clock)
    lim.observe(ResponseInfo(status=200, rate_limit=120_000, rate_window=60.0))  # 1,000/s
    assert lim.budget.lease == 8
    assert lim.acquire() == 0.0
    before = _calls(client)
    lim.observe(ResponseInfo(status=200, rate_limit=60_000, rate_window=60.0))  # 500/s
    assert _calls(client) == before + 1  # the learned limit written
    assert lim.acquire() == 0.0
    assert _calls(client) == before + 2  # asked: the old lease was dropped
