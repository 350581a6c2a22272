"""``ROTATOR_REDIS_URL`` parsed and checked, with no I/O: plain, TLS, unix socket or Sentinel.

Celery's conventions: ``redis://``, ``rediss://``, ``unix:///path?db=N``, or a Sentinel group
``sentinel://h1:26379;sentinel://h2:26379/0`` with ``ROTATOR_REDIS_SENTINEL_MASTER``.
``rotator.state.connection`` builds the clients from the ``RedisTarget`` parsed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urlparse

from rotator.core.errors import ConfigError
from rotator.core.models import Secret
from rotator.settings.formats import redis_url_part_problems, redis_url_unsplit

__all__ = [
    "MASTER_ENV",
    "RedisSettings",
    "RedisSpec",
    "RedisTarget",
    "master_address",
    "parse_target",
    "url_problems",
]

ENV = "ROTATOR_REDIS_URL"
MASTER_ENV = "ROTATOR_REDIS_SENTINEL_MASTER"
_SCHEMES = ("redis", "rediss", "unix", "sentinel")
_MASTER = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DB = re.compile(r"[0-9]{1,5}")  # ASCII: str.isdigit and int take "٣" as 3
_HOST = re.compile(r"[A-Za-z0-9._:-]{1,255}")  # a name, an IPv4 or an IPv6 address
_PORT = re.compile(r"[0-9]{1,5}")


class RedisSettings(Protocol):
    """The three settings this module reads (``rotator.settings.load.Settings`` has them)."""

    @property
    def redis_url(self) -> str: ...
    @property
    def redis_sentinel_master(self) -> str | None: ...
    @property
    def redis_sentinel_password(self) -> Secret | None: ...


@dataclass(frozen=True)
class RedisTarget:
    """A parsed ``ROTATOR_REDIS_URL``; ``sentinels`` is empty unless it names a Sentinel group."""

    url: str
    scheme: str
    db: int
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str | None = None
    sentinel_password: Secret | None = None

    @property
    def is_sentinel(self) -> bool:
        return self.scheme == "sentinel"


def _db(path: str, query: str, problems: list[str], where: str) -> int | None:
    """The database: the path's (``/N``), or a unix socket's ``?db=N`` (the path is the
    socket's then); a ``db=`` anywhere else is refused (``redis_url_part_problems``)."""
    raw = (parse_qs(query).get("db") or [""])[0] if path == "" else path.strip("/")
    if raw == "":
        return None
    if not _DB.fullmatch(raw):
        problems.append(f"{ENV}: {where}: database {raw[:20]!r} is not a number")
        return None
    return int(raw)


def _chunk_problems(chunk: str, problems: list[str]) -> tuple[str, int | None]:
    """Check one ``;``-separated URL; return its scheme and database (None: not given)."""
    unsplit = redis_url_unsplit(chunk)
    if unsplit:
        problems.append(f"{ENV}: {unsplit}")
        return chunk.partition("://")[0], None
    parsed = urlparse(chunk)
    where = f"{parsed.scheme or '(no scheme)'}://{parsed.hostname or ''}"
    problems.extend(f"{ENV}: {where}: {p}" for p in redis_url_part_problems(chunk))
    if parsed.scheme not in _SCHEMES:
        problems.append(f"{ENV}: scheme {parsed.scheme!r} is not one of {', '.join(_SCHEMES)}")
        return parsed.scheme, None
    if parsed.scheme == "unix":
        if not parsed.path:
            problems.append(f"{ENV}: unix:// needs a socket path (unix:///run/redis.sock?db=0)")
        return parsed.scheme, _db("", parsed.query, [], where)  # db=: a part problem above
    try:
        port = parsed.port
    except ValueError:
        problems.append(f"{ENV}: {where}: the port is not a number from 1 to 65535")
        port = None
    if not parsed.hostname:
        problems.append(f"{ENV}: {chunk.rsplit('@', maxsplit=1)[-1]!r} names no host")
    elif port == 0:
        problems.append(f"{ENV}: {where}: port 0")
    return parsed.scheme, _db(parsed.path, parsed.query, problems, where)


def url_problems(url: str, master: str | None) -> list[str]:
    """Every problem with a Redis URL and Sentinel master name (pure: no connection made)."""
    problems: list[str] = []
    chunks = [c.strip() for c in url.split(";") if c.strip()]
    if not chunks:
        return [f"{ENV} is empty"]
    found = [_chunk_problems(c, problems) for c in chunks]
    schemes = {s for s, _ in found}
    dbs = {d for _, d in found if d is not None}
    if len(schemes) > 1:
        problems.append(
            f"{ENV} mixes schemes ({', '.join(sorted(schemes))}): give one server, or only "
            "sentinel:// addresses separated by ';'"
        )
    elif len(chunks) > 1 and schemes != {"sentinel"}:
        problems.append(f"{ENV}: only sentinel:// addresses may be listed with ';'")
    if len(dbs) > 1:
        problems.append(f"{ENV}: the sentinel addresses name different databases")
    if schemes == {"sentinel"} and not master:
        problems.append(f"{ENV} names a Sentinel group: set {MASTER_ENV} to the master's name")
    elif master and schemes != {"sentinel"}:
        problems.append(f"{MASTER_ENV} is set but {ENV} is not a sentinel:// URL")
    if master and not _MASTER.fullmatch(master):
        problems.append(f"{MASTER_ENV}={master[:64]!r} is not a Sentinel master name")
    return problems


def parse_target(s: RedisSettings) -> RedisTarget:
    """The parsed Redis settings; ``ConfigError`` naming every problem."""
    problems = url_problems(s.redis_url, s.redis_sentinel_master)
    if problems:
        raise ConfigError(problems)
    chunks = [urlparse(c.strip()) for c in s.redis_url.split(";") if c.strip()]
    first = chunks[0]
    dbs = [_db("" if c.scheme == "unix" else c.path, c.query, [], "") for c in chunks]
    db = next((d for d in dbs if d is not None), 0)
    if first.scheme != "sentinel":
        return RedisTarget(url=s.redis_url, scheme=first.scheme, db=db)
    return RedisTarget(
        url=s.redis_url,
        scheme="sentinel",
        db=db,
        sentinels=tuple((c.hostname or "", c.port or 26379) for c in chunks),
        master=s.redis_sentinel_master,
        sentinel_password=s.redis_sentinel_password,
    )


@dataclass(frozen=True)
class RedisSpec:
    """The Redis settings on their own, for callers that hold a URL rather than ``Settings``."""

    redis_url: str
    redis_sentinel_master: str | None = None
    redis_sentinel_password: Secret | None = None


def master_address(addr: object) -> tuple[str, int] | None:
    """A sentinel's (untrusted) answer to ``get-master-addr-by-name`` as (host, port); None:
    it knows no such master; ``ValueError`` when it is not an address."""
    if not addr:
        return None
    if not isinstance(addr, list | tuple) or len(addr) != 2:
        raise ValueError("not a (host, port) pair")
    host, port = (x.decode(errors="replace") if isinstance(x, bytes) else str(x) for x in addr)
    if not _HOST.fullmatch(host) or not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
        raise ValueError("not host:port")
    return host, int(port)
