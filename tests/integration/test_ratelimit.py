"""The shared Composio rate limit: GCRA in Redis, adapt-down, fail-open, and the client hook."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import pytest
import redis
from structlog.testing import capture_logs

from rotator.composio.client import ComposioClient
from rotator.core.errors import ComposioUnavailable, ConfigError
from rotator.core.models import Payload, ResponseInfo, Secret
from rotator.core.retry import RetryBudget
from rotator.devkit.emulator import Emulator, Fault
from rotator.devkit.sandbox import free_port
from rotator.ratelimit.limiter import Adaptation, RateLimiter, adaptation
from rotator.runtime import build_runtime
from rotator.settings.load import load_settings
from rotator.state.store import Keys
from tests.clock_support import FakeClock
from tests.procs import wait_until

KEY = "ck_ratelimit_test"
Grant = tuple[float, float]  # (time before asking, time the grant came back)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


def limiter(
    client: redis.Redis,
    *,
    rate: float = 10.0,
    period: float = 1.0,
    burst: int = 1,
    key: str = Keys.ratelimit,
    clock: FakeClock | None = None,
) -> RateLimiter:
    """A limiter whose cap (``rate`` per ``period``) binds: Composio announced far more."""
    lim = RateLimiter(client, share=1.0, cap=(rate, period), burst=burst, key=key, clock=clock)
    lim.observe(ResponseInfo(status=200, rate_limit=10**9, rate_window=1.0))
    return lim


def approx_us(expected: object) -> object:
    """Equal to within the limiter's resolution (one microsecond)."""
    return pytest.approx(expected, abs=1.5e-6)


def low(remaining: int, window: float = 1.0) -> ResponseInfo:
    return ResponseInfo(status=200, rate_limit=100, rate_remaining=remaining, rate_window=window)


def test_burst_then_one_request_per_interval(client: redis.Redis) -> None:
    """Three go at once (burst 3), then one every 1/58 s: the burst counts inside the budget of
    60 per second (3 + 57 more in the rest of the second); a refused call consumes nothing."""
    clock, step = FakeClock(), 1 / 58
    lim = limiter(client, rate=60.0, burst=3, clock=clock)
    assert [lim.acquire() for _ in range(5)] == approx_us([0, 0, 0, step, step])
    clock.now += step / 2
    assert lim.acquire() == approx_us(step / 2)
    clock.now += step / 2
    assert [lim.acquire(), lim.acquire()] == approx_us([0, step])
    clock.now += 10
    assert [lim.acquire() for _ in range(4)] == approx_us([0, 0, 0, step])


def test_redis_server_time_spaces_requests(client: redis.Redis) -> None:
    """Without an injected clock the server's TIME is used: 20/s means 50 ms apart. The hash
    outlives its last grant by a second, or by a day once it holds a learned limit."""
    bare = RateLimiter(client, share=1.0, cap=(20.0, 1.0), burst=1)
    assert bare.acquire() == 0.0
    assert 0.0 < bare.acquire() <= 0.05
    assert 0 < client.pttl(Keys.ratelimit) <= 1_100
    lim = limiter(client, rate=20.0)
    assert 0.0 <= lim.acquire() <= 0.05
    assert 86_000_000 < client.pttl(Keys.ratelimit) <= 86_401_000


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (ResponseInfo(status=200, rate_limit=2000, rate_remaining=1999), None),
        (ResponseInfo(status=200, rate_limit=2000, rate_remaining=200), None),
        (ResponseInfo(status=200), None),
        (ResponseInfo(status=None, failure="timeout"), None),
        (low(9, 30.0), Adaptation(0.5, 30.0, 0.0, "remaining 9/100")),
        (ResponseInfo(status=200, rate_limit=2000, rate_remaining=0), Adaptation(0.5, 60, 0, "r")),
        (ResponseInfo(status=429, retry_after=7.0), Adaptation(0.25, 60.0, 7.0, "429")),
        (ResponseInfo(status=429, retry_after=900.0), Adaptation(0.25, 60.0, 60.0, "429")),
        (ResponseInfo(status=400, slug="HTTP_TooManyRequests"), Adaptation(0.25, 60, 0, "429")),
    ],
)
def test_what_an_answer_says_about_the_budget(
    info: ResponseInfo, expected: Adaptation | None
) -> None:
    """Below 10% remaining halves the rate; a 429 quarters it and holds for Retry-After."""
    got = adaptation(info)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert (got.factor, got.ttl, got.hold) == (expected.factor, expected.ttl, expected.hold)


def test_low_remaining_halves_the_rate_for_one_window(client: redis.Redis) -> None:
    """After a low X-RateLimit-Remaining every user of the key is at half rate, for 1 window."""
    clock = FakeClock()
    lim, other = limiter(client, clock=clock), limiter(client, clock=clock)
    assert lim.acquire() == 0.0
    lim.observe(low(5, window=1.0))
    lim.observe(ResponseInfo(status=200, rate_limit=100, rate_remaining=90, rate_window=1.0))
    clock.now += 0.1
    assert [other.acquire(), other.acquire()] == pytest.approx([0, 0.2])
    clock.now += 1.2
    assert [other.acquire(), other.acquire()] == pytest.approx([0, 0.1])


def gap_after_a_grant(lim: RateLimiter) -> float | None:
    """Take a slot if one is free now; then how long until the next (None: none was free)."""
    return lim.acquire() if lim.acquire() == 0.0 else None


def test_429_holds_every_worker_then_the_rate_recovers(client: redis.Redis) -> None:
    """A 429 (Retry-After 0.3 s, window 0.6 s) pauses all, then quarter rate, then full rate."""
    lim, other = limiter(client, rate=20.0), limiter(client, rate=20.0)
    with capture_logs() as logs:
        lim.observe(ResponseInfo(status=429, retry_after=0.3, rate_window=0.6))
    observed = time.monotonic()
    assert [e["event"] for e in logs] == ["ratelimit.adapted"]
    assert 0.2 < other.acquire() <= 0.3
    wait_until("the hold ends", lambda: other.acquire() == 0.0, timeout=2)
    assert 0.15 < other.acquire() <= 0.2  # 20/s x 0.25 = one per 0.2 s
    wait_until("full rate", lambda: (gap_after_a_grant(other) or 1.0) <= 0.05, timeout=3)
    assert time.monotonic() - observed >= 0.55


def test_an_unreachable_redis_fails_open(redis_url: str) -> None:
    """Nothing listening: every request is granted, observe is harmless, one warning is logged."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    lim = RateLimiter.from_url(url, share=0.5, cap=(1.0, 60.0), burst=1)
    started = time.monotonic()
    with capture_logs() as logs:
        assert [lim.acquire() for _ in range(5)] == [0.0] * 5
        lim.observe(ResponseInfo(status=429, retry_after=5.0))
    lim.close()
    assert time.monotonic() - started < 5.0
    assert [(e["event"], e["log_level"]) for e in logs] == [("ratelimit.unavailable", "warning")]
    assert logs[0]["fail_open"] is True


def _hammer(
    url: str,
    key: str,
    rate: float,
    burst: int,
    seconds: float,
    go: Barrier,
    out: Queue[list[Grant]],
) -> None:
    """One worker process: 8 threads asking for slots for ``seconds``, sleeping as told."""
    lim = RateLimiter(redis.Redis.from_url(url), share=1.0, cap=(rate, 1.0), burst=burst, key=key)
    grants: list[Grant] = []
    go.wait()
    end = time.time() + seconds

    def thread() -> None:
        while (before := time.time()) < end:
            wait = lim.acquire()
            if wait == 0:
                grants.append((before, time.time()))
            else:
                time.sleep(wait)

    threads = [threading.Thread(target=thread) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lim.close()
    out.put(grants)


def hammer_processes(url: str, key: str, rate: float, burst: int, seconds: float) -> list[Grant]:
    """Four spawned processes of ``_hammer`` started together; every grant, sorted."""
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Barrier(4, timeout=30), ctx.Queue()
    args = (url, key, rate, burst, seconds, go, out)
    procs = [ctx.Process(target=_hammer, args=args) for _ in range(4)]
    for p in procs:
        p.start()
    grants = sorted(g for _ in procs for g in out.get(timeout=60))
    for p in procs:
        p.join(timeout=30)
    assert [p.exitcode for p in procs] == [0] * 4
    return grants


def most_in_any_window(grants: list[Grant], width: float) -> int:
    """The most grants that surely fell inside one interval of ``width`` s (asked and answered)."""
    return max(
        sum(1 for b, a in grants if b >= start and a <= start + width) for start, _ in grants
    )


def test_the_cap_holds_across_four_processes_of_eight_threads(
    redis_url: str, client: redis.Redis
) -> None:
    """32 threads in 4 processes for 2.5 s at 100/s, burst 5: <= 105 in any second, ~250 in all
    (each process follows the limit learned before it started, on its first grant)."""
    rate, burst, seconds = 100.0, 5, 2.5
    key = "rotator:ratelimit:procs"
    limiter(client, key=key)  # Composio announced far more than the cap
    grants = hammer_processes(redis_url, key, rate, burst, seconds)
    assert most_in_any_window(grants, 1.0) <= rate + burst
    assert most_in_any_window(grants, 0.5) <= rate * 0.5 + burst
    span = grants[-1][1] - grants[0][0]
    # lower bound: not starved (85%: 32 threads oversleep on a loaded 2-core machine)
    assert 0.85 * rate * seconds <= len(grants) <= rate * span + burst + 1


@dataclass
class Scripted:
    """A limiter that answers from a script and records what it was told."""

    waits: list[float]
    seen: list[int | None] = field(default_factory=list)

    def acquire(self) -> float:
        return self.waits.pop(0) if self.waits else 0.0

    def observe(self, info: ResponseInfo) -> None:
        self.seen.append(info.status)


@pytest.fixture
def rl_emu() -> Iterator[Emulator]:
    with Emulator(api_keys=[KEY]) as e:
        e.add_auth_config("ac_rl")
        yield e


def composio(url: str, limiter: object, sleeps: list[float] | None = None) -> ComposioClient:
    return ComposioClient(
        base_url=url,
        key_provider=lambda refresh: Secret(KEY),
        key_refreshable=False,
        budget=RetryBudget(base_delay=0.01),
        sleep=(sleeps.append if sleeps is not None else time.sleep),
        limiter=limiter,  # type: ignore[arg-type]
    )


def payload(value: str = "v") -> Payload:
    return Payload(type="custom", credentials={"client_secret": Secret(value)})


def test_the_client_asks_before_every_attempt_and_reports_every_answer(rl_emu: Emulator) -> None:
    """Short waits are slept in the call, retries ask again, and each answer is observed."""
    rl_emu.inject(Fault(status=503), nanoid="ac_rl", times=1)
    lim, sleeps = Scripted(waits=[0.5, 1.0, 0.0, 2.0]), list[float]()
    with composio(rl_emu.url, lim, sleeps) as client:
        assert client.update_auth_config("ac_rl", payload()).attempts == 2
    assert sleeps[:2] == [0.5, 1.0] and sleeps[3:] == [2.0]  # sleeps[2] is the 503 backoff
    assert lim.seen == [503, 200]


def test_a_long_wait_goes_back_to_celery_unsent(rl_emu: Emulator) -> None:
    """A slot further away than the in-call budget raises ComposioUnavailable with retry_after."""
    lim, sleeps = Scripted(waits=[3.0, 2.5]), list[float]()
    with composio(rl_emu.url, lim, sleeps) as client, pytest.raises(ComposioUnavailable) as caught:
        client.update_auth_config("ac_rl", payload())
    assert caught.value.retry_after == 2.5 and sleeps == [3.0]
    assert getattr(caught.value, "attempts", None) == 0
    assert rl_emu.patches("ac_rl") == []


def test_a_real_limiter_turns_the_next_minute_into_a_countdown(
    rl_emu: Emulator, client: redis.Redis
) -> None:
    """At 1/min the second PATCH is not sent: the caller is told to come back in ~60 s."""
    with composio(rl_emu.url, limiter(client, rate=1.0, period=60.0)) as c:
        c.update_auth_config("ac_rl", payload("a"))
        with pytest.raises(ComposioUnavailable) as caught:
            c.update_auth_config("ac_rl", payload("b"))
    assert 59.0 < (caught.value.retry_after or 0) <= 60.0
    assert len(rl_emu.patches("ac_rl")) == 1


def test_threads_stay_under_the_emulators_limit(client: redis.Redis) -> None:
    """16 threads against 100/s: a limiter at 80/s gets zero 429s and >= 90% of its 80/s."""
    rate, burst, seconds = 80.0, 5, 2.5
    lim = limiter(client, rate=rate, burst=burst, key="rotator:ratelimit:emu")
    with Emulator(api_keys=[KEY], rate_limit=100, rate_window=1.0) as limited:
        for n in range(16):
            limited.add_auth_config(f"ac_t{n}")
        with composio(limited.url, lim) as c, ThreadPoolExecutor(16) as pool:
            started = time.monotonic()

            def patch_until_deadline(n: int) -> int:
                done = 0
                while time.monotonic() < started + seconds:
                    c.update_auth_config(f"ac_t{n}", payload(str(done)))
                    done += 1
                return done

            sent = sum(pool.map(patch_until_deadline, range(16)))
            elapsed = time.monotonic() - started
        statuses = [e.status for e in limited.journal]
    assert statuses.count(429) == 0 and len(statuses) == sent
    assert (sent - burst) / elapsed >= 0.9 * rate


def test_settings_and_runtime_wiring(stack_env: dict[str, str]) -> None:
    """ROTATOR_RATE_LIMIT is auto by default, N/unit is a cap on top, 0/off turns the limiter
    off; ROTATOR_RATE_LIMIT_SHARE is in (0, 1]; build_runtime wires the limiter."""
    base = {k: v for k, v in stack_env.items() if not k.startswith("ROTATOR_RATE")}
    defaults = load_settings(base)
    assert (defaults.rate_limit, defaults.rate_limit_auto) == (None, True)
    assert (defaults.rate_limit_share, defaults.rate_limit_burst) == (0.5, 10)
    for auto in ("auto", "", " AUTO "):
        assert load_settings({**base, "ROTATOR_RATE_LIMIT": auto}).rate_limit is None
    assert load_settings({**base, "ROTATOR_RATE_LIMIT": "25/s"}).rate_limit == (25.0, 1.0)
    assert load_settings({**base, "ROTATOR_RATE_LIMIT": "20000/10min"}).rate_limit == (2e4, 600)
    assert load_settings({**base, "ROTATOR_RATE_LIMIT_SHARE": "1"}).rate_limit_share == 1.0
    for text in ("0", "off", "0/min"):
        off = load_settings({**base, "ROTATOR_RATE_LIMIT": text})
        assert (off.rate_limit, off.rate_limit_auto) == (None, False)
        assert RateLimiter.from_settings(off) is None
    bad = {**base, "ROTATOR_RATE_LIMIT": "25", "ROTATOR_RATE_LIMIT_BURST": "0"}
    with pytest.raises(ConfigError) as caught:
        load_settings({**bad, "ROTATOR_RATE_LIMIT_SHARE": "1.5"})
    assert "ROTATOR_RATE_LIMIT='25' is not REQUESTS/PERIOD" in str(caught.value)
    assert "ROTATOR_RATE_LIMIT_BURST='0' must be at least 1" in str(caught.value)
    assert "ROTATOR_RATE_LIMIT_SHARE" in str(caught.value)
    with pytest.raises(ConfigError, match="ROTATOR_RATE_LIMIT_SHARE"):
        load_settings({**base, "ROTATOR_RATE_LIMIT_SHARE": "0"})
    one = {"ROTATOR_RATE_LIMIT": "1/min", "ROTATOR_RATE_LIMIT_BURST": "1"}
    rt = build_runtime(load_settings({**base, **one}))
    try:
        assert rt.limiter is not None and rt.limiter.acquire() == 0.0
        assert rt.limiter.acquire() > 59.0
    finally:
        rt.close()
    auto_rt = build_runtime(load_settings(base))
    auto_rt.close()
    assert auto_rt.limiter is not None and auto_rt.limiter.budget.source == "assumed"
    off_rt = build_runtime(load_settings({**base, "ROTATOR_RATE_LIMIT": "0"}))
    off_rt.close()
    assert off_rt.limiter is None


def test_low_remaining_from_our_own_use_is_not_a_reason_to_slow_down() -> None:
    """Configured near the organisation's limit, a low Remaining is our own doing (429s stay the
    signal); configured well below it, a low Remaining means others share the budget."""
    info = ResponseInfo(status=200, rate_limit=100, rate_remaining=5, rate_window=10.0)
    assert adaptation(info, own_rate=10.0) is None  # 100 per 10 s: all of it is ours
    slowed = adaptation(info, own_rate=5.0)  # 50 per 10 s: someone else used the rest
    assert slowed is not None and slowed.factor == 0.5
