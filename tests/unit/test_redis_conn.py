"""ROTATOR_REDIS_URL parsing (pure) and the Celery options built from it."""

from __future__ import annotations

import pytest

from rotator.core.errors import ConfigError
from rotator.state.connection import RedisSpec, celery_redis_config, current_primary, parse_target
from rotator.state.connection import url_problems as problems

GROUP = "sentinel://:pw@127.0.0.1:26379;sentinel://127.0.0.1:26380;sentinel://127.0.0.1:26381/2"


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "rediss://:pw@redis.example:6380/1", "unix:///run/r.sock?db=3"],
)
def test_single_server_urls_are_accepted_without_a_master(url: str) -> None:
    """Plain, TLS and unix-socket URLs pass; they need no master name."""
    assert problems(url, None) == []


@pytest.mark.parametrize(
    ("url", "master", "expected"),
    [
        (GROUP, None, "set ROTATOR_REDIS_SENTINEL_MASTER"),
        ("sentinel://127.0.0.1:1;redis://127.0.0.1:2/0", "m", "mixes schemes"),
        ("redis://127.0.0.1:1/0;redis://127.0.0.1:2/0", None, "only sentinel:// addresses"),
        ("redis://127.0.0.1:6379/0", "m", "is set but ROTATOR_REDIS_URL is not a sentinel"),
        ("redis://127.0.0.1:99999/0", None, "port is not a number"),
        ("redis://127.0.0.1:6379/abc", None, "database 'abc' is not a number"),
        ("amqp://guest@127.0.0.1:5672//", None, "scheme 'amqp'"),
        ("sentinel://127.0.0.1:1/0;sentinel://127.0.0.1:2/1", "m", "different databases"),
        (GROUP, "bad name!", "is not a Sentinel master name"),
    ],
)
def test_each_bad_redis_setting_is_named(url: str, master: str | None, expected: str) -> None:
    """Every problem is one message naming it; parse_target raises them as ConfigError."""
    found = problems(url, master)
    assert any(expected in p for p in found), found
    with pytest.raises(ConfigError):
        parse_target(RedisSpec(url, master))


def test_a_sentinel_group_becomes_broker_backend_and_redbeat_options() -> None:
    """Every sentinel address carries the userinfo and the database for kombu and Celery; the
    master name reaches both transport options; RedBeat gets its sentinels list."""
    conf = celery_redis_config(RedisSpec(GROUP, "mymaster"), {"visibility_timeout": 3600})
    chunks = conf["broker_url"].split(";")
    assert chunks == [f"sentinel://:pw@127.0.0.1:{p}/2" for p in (26379, 26380, 26381)]
    assert conf["result_backend"] == conf["broker_url"]
    for key in ("broker_transport_options", "result_backend_transport_options"):
        assert conf[key]["master_name"] == "mymaster"
        assert conf[key]["visibility_timeout"] == 3600
    beat = conf["redbeat_redis_options"]
    assert conf["redbeat_redis_url"].startswith("redis-sentinel://")
    assert beat["sentinels"] == [["127.0.0.1", p] for p in (26379, 26380, 26381)]
    assert (beat["service_name"], beat["db"], beat["password"]) == ("mymaster", 2, "pw")


def test_the_current_primary_of_a_single_server_is_its_address() -> None:
    """No connection is needed to name a single server."""
    assert current_primary(RedisSpec("redis://10.0.0.5:6380/0")) == "10.0.0.5:6380"
    assert current_primary(RedisSpec("unix:///run/r.sock?db=1")) == "unix:/run/r.sock"


def test_the_clients_parse_and_pack_with_hiredis() -> None:
    """hiredis is a dependency: redis-py's C parser (and, by the same switch, its C command
    packer) serves every Redis call; without it the workers would silently spend more CPU on
    every command."""
    from redis import connection
    from redis.utils import HIREDIS_AVAILABLE

    assert HIREDIS_AVAILABLE
    assert connection.DefaultParser.__name__ == "_HiredisParser"
