"""What one setting's text may be: the kinds the settings declaration is made of.

A kind turns the raw text of one environment variable into a value, or raises ``Invalid`` with
the problem as a predicate ("must be at least 1"); the loader puts the variable's name and, unless
the kind says not to, the shown text in front. ``allowed()`` is the README's "allowed" column and
``show()`` renders a default. Kinds are pure: no environment, no files, no network.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import SplitResult, urlsplit

from rotator.core.age import parse_duration, show_duration
from rotator.core.models import Secret

__all__ = [
    "Choice",
    "Duration",
    "Flag",
    "Invalid",
    "Kind",
    "Number",
    "SecretText",
    "Text",
    "Url",
    "Whole",
    "is_loopback",
    "or_words",
    "shown_text",
    "shown_url",
    "split_url",
]

T = TypeVar("T")
_SHOWN_MAX = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Invalid(ValueError):
    """The raw text is not acceptable; the message says why and never repeats a secret."""


def shown_text(raw: str) -> str:
    """How a bad value is echoed: repr'd (escapes control characters), cut to 80 characters."""
    return repr(raw) if len(raw) <= _SHOWN_MAX else repr(raw[:_SHOWN_MAX]) + "..."


def _without_userinfo(url: str) -> str:
    if "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"


def shown_url(raw: str) -> str:
    """A URL (or ``;``-joined URLs) echoed without userinfo: all up to the last ``@`` of each is
    ``***``, so a password holding ``/``, ``#`` or ``?`` is hidden too."""
    return shown_text(";".join(_without_userinfo(u) for u in raw.split(";")))


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: the only hosts plain ``http://`` may reach."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Kind(Generic[T]):
    """Base of every kind: parse the text, describe what is allowed, render a default."""

    secret = False  # a secret's text is never echoed in a problem

    def parse(self, raw: str) -> T:
        raise NotImplementedError

    def allowed(self) -> str:
        return "text"

    def show(self, value: T) -> str:
        return "" if value is None else str(value)

    def echo(self, raw: str) -> str:
        return shown_text(raw)


@dataclass(frozen=True)
class Text(Kind[str]):
    """Free text; ``strip`` characters are removed from both ends (``/`` for Vault paths)."""

    strip: str = ""
    what: str = "text"

    def parse(self, raw: str) -> str:
        if _CONTROL.search(raw):
            raise Invalid("must not contain control characters")
        if not raw.strip():
            raise Invalid("is blank (leave it unset or empty for the default)")
        value = raw.strip().strip(self.strip) if self.strip else raw
        if not value:
            raise Invalid(f"is empty once {self.strip!r} are stripped")
        return value

    def allowed(self) -> str:
        return self.what


@dataclass(frozen=True)
class SecretText(Kind[Secret]):
    """A secret, held as ``Secret``; at least ``min_bytes`` bytes that are not all whitespace."""

    min_bytes: int = 1
    secret = True

    def parse(self, raw: str) -> Secret:
        if not raw.strip():
            raise Invalid("must not be blank")
        if len(raw.strip().encode()) < self.min_bytes:
            raise Invalid(f"must be at least {self.min_bytes} bytes, not whitespace")
        return Secret(raw)

    def allowed(self) -> str:
        return "secret" if self.min_bytes <= 1 else f"secret, >= {self.min_bytes} bytes"


@dataclass(frozen=True)
class Choice(Kind[T]):
    """One of a fixed set of words (case-insensitive; ``upper`` stores them upper-case)."""

    options: tuple[T, ...]
    upper: bool = False

    def parse(self, raw: str) -> T:
        text = raw.strip().upper() if self.upper else raw.strip().lower()
        for option in self.options:
            if text == str(option):
                return option
        raise Invalid(f"must be {or_words([str(o) for o in self.options])}")

    def allowed(self) -> str:
        return ", ".join(f"`{o}`" for o in self.options)


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


class Flag(Kind[bool]):
    """A boolean: ``true``/``false`` (also 1/0, yes/no, on/off)."""

    def parse(self, raw: str) -> bool:
        text = raw.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise Invalid("must be true or false")

    def allowed(self) -> str:
        return "`true`, `false`"

    def show(self, value: bool) -> str:
        return "true" if value else "false"


@dataclass(frozen=True)
class Number(Kind[float]):
    """A finite number in ``[low, high]``; ``above`` makes the low end open (``> low``)."""

    low: float
    high: float
    above: bool = False
    unit: str = ""

    def parse(self, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise Invalid("is not a number") from None
        if not math.isfinite(value):
            raise Invalid("is not a finite number")
        if value < self.low or value > self.high or (self.above and value == self.low):
            raise Invalid(f"must be {self.allowed()}")
        return value

    def allowed(self) -> str:
        low = f"greater than {_num(self.low)}" if self.above else f"at least {_num(self.low)}"
        return f"{low} and at most {_num(self.high)}{self.unit}"

    def show(self, value: float) -> str:
        return _num(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Whole(Kind[int]):
    """A whole number in ``[low, high]``."""

    low: int
    high: int

    def parse(self, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise Invalid("is not a whole number") from None
        if not self.low <= value <= self.high:
            raise Invalid(f"must be {self.allowed()}")
        return value

    def allowed(self) -> str:
        return f"at least {self.low} and at most {self.high}"


@dataclass(frozen=True)
class Duration(Kind[float]):
    """A duration in seconds: ``90d``, ``36h``, ``30m``, ``45s``, or ``0`` (off)."""

    def parse(self, raw: str) -> float:
        try:
            return parse_duration(raw)
        except ValueError as exc:
            raise Invalid(str(exc)) from None

    def allowed(self) -> str:
        return "`0` or a duration: `90d`, `36h`, `30m`, `45s`"

    def show(self, value: float) -> str:
        return show_duration(value)


def or_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def split_url(raw: str, schemes: tuple[str, ...]) -> SplitResult:
    """Parse one URL; a control character, another scheme or a bad port is ``Invalid``."""
    if _CONTROL.search(raw) or " " in raw:
        raise Invalid("must not contain spaces or control characters")
    try:
        parts = urlsplit(raw)
    except ValueError:  # "Invalid IPv6 URL": a '[' without its ']'
        raise Invalid("is not a URL (a '[' without its ']'?)") from None
    if parts.scheme not in schemes:
        raise Invalid(f"must start with {or_words([s + '://' for s in schemes])}")
    try:
        parts.port  # noqa: B018  (raises ValueError on a bad or out-of-range port)
    except ValueError:
        raise Invalid("has a port that is not a number from 1 to 65535") from None
    if parts.port == 0:
        raise Invalid("has a port that is not a number from 1 to 65535")
    return parts


@dataclass(frozen=True)
class Url(Kind[str]):
    """An ``http(s)://host[:port][/path]`` URL without userinfo; trailing ``/`` dropped."""

    def parse(self, raw: str) -> str:
        parts = split_url(raw.strip(), ("https", "http"))
        if not parts.hostname:
            raise Invalid("has no host (https://host[:port])")
        if "@" in parts.netloc:
            raise Invalid("must not carry user:password@ (credentials come from their settings)")
        if parts.query or parts.fragment:
            raise Invalid("must not have a ?query or #fragment")
        return raw.strip().rstrip("/")

    def allowed(self) -> str:
        return "`https://host[:port]`"

    def echo(self, raw: str) -> str:
        return shown_url(raw)
