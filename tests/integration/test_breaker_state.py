"""The fleet breaker's Redis part (state.circuit) and shell (rotation.breaker) on a real
Redis: one prober per interval, one open event across processes' threads, fail open."""

from __future__ import annotations

import io
import json
import threading

import redis

from rotator.core.circuit import Signal
from rotator.core.errors import ComposioRejected, ComposioUnavailable
from rotator.devkit.sandbox import free_port
from rotator.rotation.breaker import Breaker
from rotator.state.circuit import CircuitStore


def _store(url: str) -> CircuitStore:
    return CircuitStore(redis.Redis.from_url(url, decode_responses=True))


def test_one_prober_per_interval(redis_url: str) -> None:
    """SET NX elects one prober; the others learn how long its lease has left."""
    store = _store(redis_url)
    assert store.claim_probe(20) == 0.0
    assert 19 < store.claim_probe(20) <= 20
    store.release_probe()
    assert store.claim_probe(20) == 0.0


def test_concurrent_outage_failures_open_once(redis_url: str) -> None:
    """Twenty threads' outage failures on distinct configs: the breaker opens, and exactly one
    transition carries the open event (the WATCH transaction retries the losers)."""
    store = _store(redis_url)
    events: list[str | None] = []

    def fail(i: int) -> None:
        events.append(store.apply(Signal.OUTAGE, f"ac_{i}", now=1.0, threshold=5).event)

    threads = [threading.Thread(target=fail, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.read().open
    assert events.count("composio.circuit_open") == 1


def test_a_rejected_key_holds_and_a_success_closes(redis_url: str, log_stream: io.StringIO) -> None:
    """A 401 opens the breaker and holds the rotation; the probe's success closes it; each
    change logged once."""
    breaker = Breaker(_store(redis_url), threshold=5, probe_interval=20, rand=lambda: 0.0)
    wait = breaker.failed("ac_1", ComposioRejected("401", 401, "HTTP_Unauthorized"))
    assert wait is not None and 19 < wait <= 20  # the opener took the first probe lease
    gate = breaker.admit()
    assert gate.wait is not None and not gate.probe
    breaker.store.release_probe()
    probe = breaker.admit()
    assert probe.probe and probe.wait is None
    breaker.succeeded("ac_2", probe)
    assert not breaker.store.read().open and breaker.describe() == "closed"
    names = [json.loads(line)["event"] for line in log_stream.getvalue().splitlines()]
    assert names.count("composio.circuit_open") == 1
    assert names.count("composio.circuit_closed") == 1


def test_per_config_answers_and_own_waits_never_hold(redis_url: str) -> None:
    """400/404/422 and rotator's own rate-limit wait are the config's: no hold, stays closed."""
    breaker = Breaker(_store(redis_url), threshold=1, probe_interval=20)
    for exc in (
        ComposioRejected("bad", 400),
        ComposioRejected("gone", 404, "AuthConfig_NotFound"),
        ComposioRejected("no", 422),
        ComposioUnavailable("own limit", earliest=3.0),
    ):
        assert breaker.failed("ac_1", exc) is None
    assert not breaker.store.read().open


def test_fails_open_when_redis_is_down(log_stream: io.StringIO) -> None:
    """No Redis: the breaker reads closed, admits every PATCH, and says so in the log."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    breaker = Breaker(_store(url), threshold=1, probe_interval=20)
    assert breaker.admit().wait is None
    assert breaker.failed("ac_1", ComposioUnavailable("503", status=503)) is None
    assert "circuit.state_unavailable" in log_stream.getvalue()
