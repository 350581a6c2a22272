"""ROTATOR_REDIS_URL's parts are read or refused, never silently ignored or taken: a query
parameter rotator does not take, certificate verification turned off, a fragment, a database
given twice or in non-ASCII digits, a URL that cannot be split, and a Sentinel naming its
master at a port that is not a number are each one clear line, exit 2 (never "unexpected")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rotator.core.errors import ConfigError
from rotator.settings.load import load_settings
from rotator.state.connection import RedisSpec, celery_redis_config, client, parse_target
from rotator.state.url import url_problems
from tests.procs import assert_cli_ok, run_cli
from tests.silent_support import FakeSentinel, master_at

BASE = {
    "VAULT_ADDR": "http://127.0.0.1:1",
    "VAULT_TOKEN": "root-token-value",
    "COMPOSIO_API_KEY": "ck-value",
    "ROTATOR_FINGERPRINT_KEY": "k" * 32,
}

REFUSED = [
    ("redis://127.0.0.1:6379/0?socket_timeout=0.000001", "query parameter 'socket_timeout'"),
    ("redis://127.0.0.1:6379/0?ssl_cert_reqs=none", "query parameter 'ssl_cert_reqs'"),
    ("rediss://127.0.0.1:6380/0?ssl_cert_reqs=none", "ssl_cert_reqs other than required"),
    ("rediss://127.0.0.1:6380/0?ssl_cert_reqs=optional", "ssl_cert_reqs other than required"),
    ("rediss://127.0.0.1:6380/0?ssl_keyfile=/k.pem", "query parameter 'ssl_keyfile'"),
    ("redis://127.0.0.1:6379/0#frag", "fragment"),
    ("redis://127.0.0.1:6379/0?db=3", "query parameter 'db'"),
    ("redis://127.0.0.1:6379/\u0663", "not a number"),
    ("unix:///run/redis.sock?db=\u0663", "db= query that is not a number"),
    ("unix:///run/redis.sock?db=1&db=2", "db= twice"),
    ("unix:///run/redis.sock?db=1&timeout=3", "query parameter 'timeout'"),
    ("sentinel://[::1:26379/0", "is not a URL"),
    ("sentinel://127.0.0.1:26379/0?socket_timeout=1", "query parameter 'socket_timeout'"),
    ("redis://:pa#ss@127.0.0.1:6379/0", "write them %3F and %23"),
]
ACCEPTED = [
    "redis://127.0.0.1:6379/0",
    "redis://127.0.0.1:6379",
    "rediss://:pw@redis.example:6380/1?ssl_cert_reqs=required&ssl_ca_certs=/run/ca/ca.crt",
    "rediss://redis.example:6380/1?ssl_cert_reqs=CERT_REQUIRED",
    "unix:///run/redis.sock?db=3",
    "sentinel://127.0.0.1:26379;sentinel://127.0.0.1:26380/2",
]


def _master(url: str) -> str | None:
    return "m" if url.startswith("sentinel") else None


@pytest.mark.parametrize(("url", "problem"), REFUSED)
def test_each_unread_part_is_named_by_both_parsers(url: str, problem: str) -> None:
    """The settings' parser and the connection's each refuse the URL, naming the part (never
    echoing a password)."""
    found = url_problems(url, _master(url))
    assert any(problem in p for p in found), found
    env = {**BASE, "ROTATOR_REDIS_URL": url, "ROTATOR_REDIS_SENTINEL_MASTER": _master(url) or ""}
    with pytest.raises(ConfigError, match="ROTATOR_REDIS_URL") as err:
        load_settings({k: v for k, v in env.items() if v})
    assert problem in str(err.value)
    assert "pa#ss" not in str(err.value) + " ".join(found)


@pytest.mark.parametrize("url", ACCEPTED)
def test_documented_urls_are_accepted(url: str) -> None:
    """Plain, TLS with a verified certificate (and a private CA), unix with ?db=N, Sentinel."""
    assert url_problems(url, _master(url)) == []
    env = {**BASE, "ROTATOR_REDIS_URL": url}
    if _master(url):
        env["ROTATOR_REDIS_SENTINEL_MASTER"] = "m"
    assert load_settings(env).redis_url == url


def test_a_unix_socket_database_is_the_same_for_every_client() -> None:
    """``unix:///path?db=3`` is db 3 for rotator's clients and for Celery's broker alike (the
    parse read db 0 for the broker while redis-py used 3)."""
    spec = RedisSpec("unix:///run/redis.sock?db=3")
    assert parse_target(spec).db == 3
    assert celery_redis_config(spec, {})["broker_url"].endswith("virtual_host=3")


@pytest.mark.parametrize("url", [url for url, _ in REFUSED[:4]] + [REFUSED[11][0]])
def test_the_cli_refuses_them_with_one_line_and_exit_2(url: str) -> None:
    """`status`: exit 2, one line naming ROTATOR_REDIS_URL, no "unexpected", no traceback."""
    env = {**BASE, "ROTATOR_REDIS_URL": url}
    if _master(url):
        env["ROTATOR_REDIS_SENTINEL_MASTER"] = "m"
    res = run_cli(env, "status")
    assert_cli_ok(res, 2)
    assert "ROTATOR_REDIS_URL" in res.stderr and "unexpected" not in res.stderr


@pytest.fixture(params=["abc", "99999", "-1"])
def garbled_sentinel(request: pytest.FixtureRequest) -> Iterator[FakeSentinel]:
    """A sentinel that names its master at 127.0.0.1 with a port that is not one."""
    server = FakeSentinel(master_at("127.0.0.1", str(request.param)))
    yield server
    server.close()


def test_a_sentinel_naming_a_port_that_is_not_a_number_is_a_named_problem(
    garbled_sentinel: FakeSentinel,
) -> None:
    """The client, `status` and `health` name the sentinel and what is wrong: exit 2."""
    url = f"sentinel://{garbled_sentinel.addr}/0"
    with pytest.raises(ConfigError, match=f"{garbled_sentinel.addr} name the master at an"):
        client(RedisSpec(url, "m"))
    env = {**BASE, "ROTATOR_REDIS_URL": url, "ROTATOR_REDIS_SENTINEL_MASTER": "m"}
    for command in ("status", "health"):
        res = run_cli(env, command)
        assert_cli_ok(res, 2)
        assert garbled_sentinel.addr in res.stderr and "port from 1 to 65535" in res.stderr
