"""Faults the emulator can inject, and the plan that decides which request gets which.

A ``Fault`` either replaces the answer (a status, a raw body, a dropped connection, a hang) or
only modifies a normal answer (``delay``, ``drip``, extra ``headers``: a "slow" fault). A
replacing fault skips the request unless ``apply`` is set: then the request is processed first
and its answer lost, the "server applied it but the client never heard" case. A bare
``Fault(status=200, method="PATCH")`` is a proxy's fake 200: success answered, nothing applied.

Queued faults (per nanoid, then for any request) come first; otherwise a seeded ``FaultMix``
may draw one, so a chaos run with the same seed and the same request order is reproducible.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = ["Fault", "FaultMix", "FaultPlan", "fault_from_json"]

BodyShape = Literal["envelope", "message", "code_only"]


@dataclass(frozen=True)
class Fault:
    """One misbehaviour. See the module docstring for how the fields combine."""

    status: int | None = None
    slug: str | None = None
    retry_after: str | None = None  # raw Retry-After value: seconds or an HTTP date
    retry_after_ms: int | None = None
    should_retry: bool | None = None  # sends x-should-retry: true|false
    delay: float = 0.0  # seconds before answering (a processed request is applied at once)
    drop: bool = False  # close the connection without any response
    hang: bool = False  # never answer; released when the client leaves or the server stops
    body: bytes | None = None  # raw body, e.g. HTML from a proxy or truncated JSON
    body_shape: BodyShape = "envelope"  # body when ``body`` is None (Composio's error envelope)
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    drip: float = 0.0  # seconds between small body chunks
    apply: bool = False  # process the request before misbehaving (answer lost, change kept)
    method: str | None = None  # only requests with this method (e.g. PATCH); others pass by

    @property
    def replaces_answer(self) -> bool:
        return self.drop or self.hang or self.status is not None or self.body is not None

    @property
    def processes_request(self) -> bool:
        return self.apply or not self.replaces_answer

    @property
    def label(self) -> str:
        """A short name for the journal, e.g. ``503``, ``drop+applied``, ``slow``."""
        if self.drop or self.hang:
            name = "drop" if self.drop else "hang"
        elif self.status is not None:
            name = f"{self.status} {self.slug}" if self.slug else str(self.status)
        else:
            name = "body" if self.body is not None else "slow"
        return name + "+applied" if self.apply and self.replaces_answer else name


@dataclass(frozen=True)
class FaultMix:
    """Probabilities, per API request, of each kind of random fault (their sum at most 1).

    ``p_5xx``: 500/502/503/504 in the error envelope; ``p_429``: 429 with ``Retry-After:
    retry_after``; ``p_drop``: connection closed unanswered; ``p_hang``: no answer until the
    client gives up; ``p_garbage``: a 502 HTML page from a "proxy" or a 200 whose JSON is cut
    off. ``p_applied`` is the share of 5xx, drops and garbage where the change was applied
    before the answer was lost.
    """

    p_5xx: float = 0.0
    p_429: float = 0.0
    p_drop: float = 0.0
    p_hang: float = 0.0
    p_garbage: float = 0.0
    p_applied: float = 0.0
    retry_after: str = "1"

    def __post_init__(self) -> None:
        probs = (self.p_5xx, self.p_429, self.p_drop, self.p_hang, self.p_garbage)
        if not all(0.0 <= p <= 1.0 for p in (*probs, self.p_applied)) or sum(probs) > 1.0:
            raise ValueError("FaultMix probabilities must be in [0, 1] and sum to at most 1")

    def draw(self, rng: random.Random) -> Fault | None:
        """The fault for one request, or None; consumes a fixed number of draws per kind."""
        roll = rng.random()
        for p, kind in zip(
            (self.p_5xx, self.p_429, self.p_drop, self.p_hang, self.p_garbage),
            ("5xx", "429", "drop", "hang", "garbage"),
            strict=True,
        ):
            if roll < p:
                return self._make(kind, rng)
            roll -= p
        return None

    def _make(self, kind: str, rng: random.Random) -> Fault:
        applied = rng.random() < self.p_applied
        if kind == "5xx":
            return Fault(status=rng.choice((500, 502, 503, 504)), apply=applied)
        if kind == "429":
            return Fault(status=429, retry_after=self.retry_after)
        if kind == "drop":
            return Fault(drop=True, apply=applied)
        if kind == "hang":
            return Fault(hang=True)
        if rng.random() < 0.5:
            return Fault(status=502, body=_HTML, content_type="text/html", apply=applied)
        return Fault(status=200, body=b'{"success": tr', apply=applied)


_HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


class FaultPlan:
    """Thread-safe: queued faults per nanoid (``None`` = any request) and a random mix."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str | None, deque[_Queued]] = {}
        self._mix: FaultMix | None = None
        self._rng = random.Random(0)  # noqa: S311 - fault injection, not security

    def inject(self, fault: Fault, *, nanoid: str | None, times: int | None) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for forever")
        with self._lock:
            self._queues.setdefault(nanoid, deque()).append(_Queued(fault, times))

    def set_mix(self, mix: FaultMix | None, *, seed: int) -> None:
        with self._lock:
            self._mix = mix
            self._rng = random.Random(seed)  # noqa: S311

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
            self._mix = None

    def pick(self, nanoid: str | None, method: str | None = None) -> Fault | None:
        """The fault for one API request on ``nanoid`` (None for the list call), if any."""
        with self._lock:
            for key in (nanoid, None) if nanoid is not None else (None,):
                fault = self._take(key, method)
                if fault is not None:
                    return fault
            return self._mix.draw(self._rng) if self._mix else None

    def _take(self, key: str | None, method: str | None) -> Fault | None:
        queue = self._queues.get(key)
        if not queue or queue[0].fault.method not in (None, method):
            return None
        head = queue[0]
        if head.left is not None:
            head.left -= 1
            if head.left == 0:
                queue.popleft()
        return head.fault


@dataclass
class _Queued:
    fault: Fault
    left: int | None  # None: forever


_NONE = type(None)
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "status": (int, _NONE),
    "slug": (str, _NONE),
    "retry_after": (str, _NONE),
    "retry_after_ms": (int, _NONE),
    "should_retry": (bool, _NONE),
    "delay": (int, float),
    "drop": (bool,),
    "hang": (bool,),
    "body": (str, _NONE),
    "body_shape": (str,),
    "content_type": (str, _NONE),
    "headers": (dict,),
    "drip": (int, float),
    "apply": (bool,),
    "method": (str, _NONE),
}


def fault_from_json(data: Mapping[str, object]) -> Fault:
    """A ``Fault`` from JSON (``body`` as text); ``ValueError`` on unknown or mistyped keys."""
    bad = sorted(k for k, v in data.items() if not isinstance(v, _JSON_TYPES.get(k, ())))
    if bad or data.get("body_shape", "envelope") not in ("envelope", "message", "code_only"):
        raise ValueError("unknown or mistyped fault fields: " + ", ".join(bad or ["body_shape"]))
    values = dict(data)
    if isinstance(values.get("body"), str):
        values["body"] = str(values["body"]).encode()
    headers = values.get("headers")
    if isinstance(headers, dict):
        values["headers"] = MappingProxyType({str(k): str(v) for k, v in headers.items()})
    return Fault(**values)  # type: ignore[arg-type]
