"""rotator's own setting formats: Redis URLs (Sentinel included), the rate limit, slug overrides.

Each is a ``Kind`` (see ``rotator.settings.kinds``): it parses one variable's text or raises
``Invalid`` naming the problem, and never echoes a password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import SplitResult, parse_qsl, urlsplit

from rotator.core.models import RetryAction
from rotator.settings.kinds import Invalid, Kind, or_words, shown_text, shown_url, split_url

__all__ = [
    "RateAuto",
    "RateCap",
    "RedisUrl",
    "SlugOverrides",
    "redis_url_part_problems",
    "redis_url_unsplit",
    "uses_sentinel",
]

_DB_PATH = re.compile(r"/?|/[0-9]{1,5}")  # ASCII digits: ``\d`` (and int) would take ``/٣``
_DB = re.compile(r"[0-9]{1,5}")
_SINGLE = ("redis", "rediss", "unix")
# The query parameters rotator reads from ROTATOR_REDIS_URL, by scheme (the Deploying section's
# TLS settings; a unix socket's database). Any other part is refused, never ignored: redis-py
# would take ``?socket_timeout=`` or ``?ssl_cert_reqs=none`` silently, and ``/0?db=3`` meant
# db 3 to redis-py and db 0 to Celery.
_QUERY = {"rediss": ("ssl_cert_reqs", "ssl_ca_certs"), "unix": ("db",)}
_VERIFIED = ("required", "cert_required")


def uses_sentinel(url: str) -> bool:
    """True when ``ROTATOR_REDIS_URL`` names Sentinels (``sentinel://h1:26379;...``)."""
    return url.strip().startswith("sentinel://")


def _db(parts: SplitResult, where: str) -> None:
    if not _DB_PATH.fullmatch(parts.path):
        raise Invalid(f"{where}has a database path {shown_text(parts.path)} that is not a number")


def _takes(scheme: str) -> str:
    names = _QUERY.get(scheme)
    if names:
        return f"{scheme}:// takes {or_words(list(names))}"
    return f"{scheme}:// takes none: the database goes in the path, /0"


def _query_problems(parts: SplitResult) -> list[str]:
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return ["has a query that is not name=value pairs joined by &"] if parts.query else []
    names, problems = [n for n, _ in pairs], []
    for name in dict.fromkeys(names):
        if name not in _QUERY.get(parts.scheme, ()):
            problems.append(f"has a query parameter {shown_text(name)} ({_takes(parts.scheme)})")
        elif names.count(name) > 1:
            problems.append(f"gives {name}= twice")
    values = dict(pairs)
    if values.get("ssl_cert_reqs", "required").lower() not in _VERIFIED:
        problems.append(
            "has ssl_cert_reqs other than required: rotator verifies Redis's certificate "
            "(ssl_ca_certs names a private CA)"
        )
    if values.get("ssl_ca_certs") == "":
        problems.append("has an empty ssl_ca_certs=")
    if "db" in values and not _DB.fullmatch(values["db"]):
        problems.append("has a db= query that is not a number")
    return problems


def redis_url_unsplit(url: str) -> str | None:
    """Why one Redis URL cannot be split into its parts at all (None: it can)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a URL (a '[' without its ']'?)"
    if "@" in parts.query or "@" in parts.fragment:  # the rest would be read from a password
        return "has '?' or '#' before its '@': write them %3F and %23 in a password"
    return None


def redis_url_part_problems(url: str) -> list[str]:
    """The parts of one Redis URL (one ``redis_url_unsplit`` passes) that rotator does not
    read, or would read wrong: a fragment, a query parameter it does not take (``_QUERY``), one
    given twice, a database that is not ASCII digits, certificate verification turned off."""
    problems = ["has a fragment (#...), which rotator does not read"] if "#" in url else []
    return problems + _query_problems(urlsplit(url))


def _server(parts: SplitResult, where: str) -> None:
    if parts.scheme == "unix":
        if not parts.path or parts.hostname:
            raise Invalid(f"{where}is not unix:///path/to/redis.sock[?db=N]")
        return
    if not parts.hostname:
        raise Invalid(f"{where}has no host ({parts.scheme}://host:port/db)")
    _db(parts, where)


def _checked(url: str, schemes: tuple[str, ...], where: str) -> None:
    unsplit = redis_url_unsplit(url)
    if unsplit:
        raise Invalid(where + unsplit)
    _server(split_url(url, schemes), where)
    problems = redis_url_part_problems(url)
    if problems:
        raise Invalid(where + "; ".join(problems))


class RedisUrl(Kind[str]):
    """One ``redis://``, ``rediss://`` or ``unix://`` server, or ``;``-joined ``sentinel://`` URLs
    (Celery's convention: ``sentinel://h1:26379;sentinel://h2:26379/0``)."""

    def parse(self, raw: str) -> str:
        text = raw.strip()
        urls = [u.strip() for u in text.split(";")]
        if len(urls) > 1 or uses_sentinel(text):
            if not all(u.startswith("sentinel://") for u in urls):
                raise Invalid("mixes schemes: ';' joins sentinel:// URLs only")
            for n, url in enumerate(urls, 1):
                _checked(url, ("sentinel",), f"(sentinel #{n}) ")
            return text
        _checked(text, _SINGLE, "")
        return text

    def allowed(self) -> str:
        return (
            "`redis://[:password@]host:port/db`, `rediss://...`, `unix:///path.sock?db=N`, or "
            "`sentinel://h1:26379;sentinel://h2:26379/0`"
        )

    def echo(self, raw: str) -> str:
        return shown_url(raw)


_RATE = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)\s*/\s*(\d{1,6}(?:\.\d{1,6})?)?\s*([a-z]+)")
_PERIODS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600.0),
}
_OFF = ("0", "off")
_RATE_HELP = (
    "is not REQUESTS/PERIOD such as 1500/min, 25/s, 90000/h or 20000/10min, auto, or 0 (off)"
)
_LONGEST_PERIOD = 86400.0


def _parse_rate(raw: str) -> tuple[float, float] | str:
    """``"auto"``; ``"off"`` (``0``, ``0/min``); or the cap as (requests, per seconds)."""
    text = raw.strip().lower()
    if text == "auto":
        return "auto"
    if text in _OFF:
        return "off"
    match = _RATE.fullmatch(text)
    unit = _PERIODS.get(match.group(3)) if match else None
    if match is None or unit is None:
        raise Invalid(_RATE_HELP)
    count, period = float(match.group(1)), float(match.group(2) or 1) * unit
    if count == 0:
        return "off"
    if not 0 < period <= _LONGEST_PERIOD:
        raise Invalid("has a period that is not more than 0 s and at most one day")
    return count, period


class RateCap(Kind["tuple[float, float] | None"]):
    """``ROTATOR_RATE_LIMIT`` as an explicit cap: (requests, per seconds), None for auto or off."""

    def parse(self, raw: str) -> tuple[float, float] | None:
        rate = _parse_rate(raw)
        return None if isinstance(rate, str) else rate

    def allowed(self) -> str:
        return "`auto`, `N/s`, `N/min`, `N/h`, `N/10min`, `0` (off)"

    def show(self, value: tuple[float, float] | None) -> str:
        return "auto" if value is None else f"{value[0]:g}/{value[1]:g}s"


class RateAuto(Kind[bool]):
    """``ROTATOR_RATE_LIMIT`` read a second way: False only when the limiter is off (``0``)."""

    def parse(self, raw: str) -> bool:
        try:
            return _parse_rate(raw) != "off"
        except Invalid:
            return True  # RateCap reports the problem; one problem per variable

    def allowed(self) -> str:
        return "`true`, `false`"


_ACTIONS = {a.value: a for a in RetryAction}


class SlugOverrides(Kind[Mapping[str, RetryAction]]):
    """``Slug_A=fail,Slug_B=retry_later``: the retry action for a Composio error slug."""

    def parse(self, raw: str) -> Mapping[str, RetryAction]:
        out: dict[str, RetryAction] = {}
        for item in filter(None, (p.strip() for p in raw.split(","))):
            slug, _, action = (p.strip() for p in item.partition("="))
            if not slug or action not in _ACTIONS:
                raise Invalid(
                    f"has {shown_text(item)}, not SLUG=ACTION with ACTION "
                    + or_words(sorted(_ACTIONS))
                )
            out[slug] = _ACTIONS[action]
        return out

    def allowed(self) -> str:
        return "`SLUG=ACTION,...`; ACTION " + or_words([f"`{a}`" for a in sorted(_ACTIONS)])

    def show(self, value: Mapping[str, RetryAction]) -> str:
        return ",".join(f"{k}={v.value}" for k, v in value.items())
