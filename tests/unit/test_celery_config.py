"""celery_config() (pure): the reliability settings the README lists, and the rule that keeps
every countdown below the Redis broker's visibility timeout."""

from __future__ import annotations

import random

import pytest

from rotator.core.errors import ConfigError
from rotator.core.retry import requeue_delay
from rotator.settings.load import load_settings, retry_budget
from rotator.worker.app import celery_config

ENV = {
    "VAULT_ADDR": "http://127.0.0.1:8200",
    "VAULT_TOKEN": "root-token-value",
    "COMPOSIO_API_KEY": "ck-value",
}


def test_the_reliability_settings_are_on_with_the_defaults() -> None:
    """Late acks, redelivery of a lost worker's task, prefetch 1, JSON only, socket and connect
    timeouts, health checks, result writes retried, threads pool, RedBeat."""
    conf = celery_config(load_settings(ENV))
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert (conf["task_serializer"], conf["result_serializer"]) == ("json", "json")
    assert conf["accept_content"] == ["json"] and conf["result_accept_content"] == ["json"]
    for options in (conf["broker_transport_options"], conf["result_backend_transport_options"]):
        assert options["socket_timeout"] > 0 and options["socket_connect_timeout"] > 0
        assert options["retry_on_timeout"] is True and options["health_check_interval"] > 0
    assert conf["redis_socket_timeout"] > 0 and conf["redis_socket_connect_timeout"] > 0
    assert conf["result_backend_always_retry"] is True and conf["result_backend_max_retries"] > 0
    assert conf["broker_connection_retry_on_startup"] is True
    assert conf["worker_pool"] == "threads"
    assert (
        conf["beat_scheduler"] == "rotator.worker.beat:Scheduler"
    )  # RedBeat that outlives a failover
    assert conf["beat_schedule"]["rotator-sweep"] == {
        "task": "rotator.sweep",
        "schedule": 60.0,
    }


@pytest.mark.parametrize("visibility", ["3600", "900", "12"])
def test_the_visibility_timeout_is_set_in_all_three_places(visibility: str) -> None:
    """The broker's and the result backend's transport options and the top-level setting all
    carry ROTATOR_VISIBILITY_TIMEOUT (a mismatch lets one of them redeliver early)."""
    env = {
        **ENV,
        "ROTATOR_VISIBILITY_TIMEOUT": visibility,
        "ROTATOR_QUEUE_TTL": visibility,
    }
    conf = celery_config(load_settings(env))
    wanted = int(visibility)
    assert conf["visibility_timeout"] == wanted
    assert conf["broker_transport_options"]["visibility_timeout"] == wanted
    assert conf["result_backend_transport_options"]["visibility_timeout"] == wanted


@pytest.mark.parametrize("visibility", [3600.0, 40.0, 12.0])
def test_unacked_messages_are_scanned_for_well_within_the_visibility_timeout(
    visibility: float,
) -> None:
    """kombu restores a dead worker's messages only when it scans (default every 100 s): the
    scan runs at most every quarter of the visibility timeout, and at most every 10 s."""
    env = {"ROTATOR_QUEUE_TTL": str(visibility)}
    s = load_settings({**ENV, **env, "ROTATOR_VISIBILITY_TIMEOUT": str(visibility)})
    options = celery_config(s)["broker_transport_options"]
    every = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert 1 <= every <= min(10.0, visibility / 4)


@pytest.mark.parametrize(
    ("max_delay", "queue_ttl", "visibility", "ok"),
    [
        ("300", "270", "30", True),  # the defaults: a countdown may outlast the visibility timeout
        ("3000", "30", "30", True),  # a held countdown is renewed, so no cap rule applies
        ("300", "29", "30", False),  # the dedupe key would expire before the broker restores
    ],
)
def test_settings_refuse_a_dedupe_key_shorter_than_the_visibility_timeout(
    max_delay: str, queue_ttl: str, visibility: str, ok: bool
) -> None:
    """Live workers renew held messages, so countdowns need not stay below the visibility
    timeout; the sweep's dedupe key must outlive it, or a dead worker's rotation is queued twice."""
    env = {
        **ENV,
        "ROTATOR_RETRY_MAX_DELAY": max_delay,
        "ROTATOR_QUEUE_TTL": queue_ttl,
        "ROTATOR_VISIBILITY_TIMEOUT": visibility,
    }
    if ok:
        load_settings(env)
        return
    with pytest.raises(ConfigError, match="ROTATOR_QUEUE_TTL must be at least"):
        load_settings(env)


@pytest.mark.parametrize("retry_after", [None, 0.0, 30.0, 10_000.0])
@pytest.mark.parametrize("retries", [0, 3, 50])
def test_every_countdown_is_at_least_1_s_and_capped_at_the_max_delay(
    retry_after: float | None, retries: int
) -> None:
    """Whatever the retry count or the server's Retry-After, a task's countdown is at least
    1 s and at most ROTATOR_RETRY_MAX_DELAY (it may outlast the visibility timeout: a live
    worker renews the countdown it holds, tests/fleet/test_liveness.py)."""
    s = load_settings({**ENV, "ROTATOR_RETRY_MAX_DELAY": "60"})
    budget = retry_budget(s)
    wait = requeue_delay(
        retries, server_wait=retry_after, earliest=None, budget=budget, rand=random.random
    )
    assert 1.0 <= wait <= s.retry_max_delay
    assert wait >= min(retry_after or 0.0, s.retry_max_delay)  # never sooner than asked, to the cap


@pytest.mark.parametrize(
    ("interval", "lock_timeout"), [("1", 10), ("3", 10), ("4", 12), ("60", 180), ("7.5", 22)]
)
def test_the_redbeat_lock_lives_three_sweep_intervals_and_at_least_10_s(
    interval: str, lock_timeout: int
) -> None:
    """The README: a standby beat takes over within max(10, 3 x ROTATOR_SWEEP_INTERVAL) s."""
    conf = celery_config(load_settings({**ENV, "ROTATOR_SWEEP_INTERVAL": interval}))
    assert conf["redbeat_lock_timeout"] == lock_timeout
    assert 1 <= conf["beat_max_loop_interval"] <= min(5.0, float(interval))
