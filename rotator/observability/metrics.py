"""Prometheus metrics (``ROTATOR_METRICS_PORT``): the only module that imports prometheus_client,
and only once ``enable`` is called, so a process without metrics never loads it.

One hook, the log events: ``observe`` is a structlog processor that counts rotator's canonical
lines (``rotation.*``, ``sweep.completed``, ``composio.circuit_*``, ``ratelimit.adapted``), so a
metric and its log line can never disagree and the rotation service carries no metrics code.
Two facts are not log events and come from their owner instead: every Composio answer
(``composio_answer``, called by the Composio client, the one door that sees them all) and the
shared state read at scrape time (``watch``: breaker, dead-letter length, rate budget,
credential age).

Labels are bounded by construction: outcomes, methods and states are closed sets, a status is
three digits or ``none``, a slug is one rotator knows or ``other``, the project is ``default``
(until projects exist). No auth config id, path, value or key is ever a label.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "KNOWN_SLUGS",
    "OUTCOMES",
    "PROJECT",
    "Metrics",
    "composio_answer",
    "enable",
    "enabled",
    "observe",
    "serve",
    "watch",
]

PROJECT = "default"
OUTCOMES = ("succeeded", "failed", "skipped", "unverified", "retrying", "waiting")
# Composio error slugs rotator's retry policy and docs name; any other becomes "other".
KNOWN_SLUGS = frozenset(
    {
        "HTTP_TooManyRequests",
        "HTTP_Unauthorized",
        "ConnectedAccount_BadRequest",
        "AuthConfig_NotFound",
        "AuthConfig_ValidationError",
    }
)
SWEEP_STATES = {  # sweep.completed field -> auth config state label
    "queued": "queued",
    "skipped": "in_step",
    "already_queued": "already_queued",
    "paused": "paused",
    "quarantined": "quarantined",
    "errors": "error",
    "ambiguous": "ambiguous",
}
_METHODS = frozenset({"GET", "PATCH", "POST", "PUT", "DELETE"})
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass(frozen=True)
class Metrics:
    """Every metric rotator exports, in one registry of its own."""

    registry: CollectorRegistry
    slugs: frozenset[str]
    rotations: Counter
    duration: Histogram
    patches: Counter
    requests: Counter
    retries: Counter
    dead_letters: Counter
    circuit_changes: Counter
    adaptations: Counter
    sweep_at: Gauge
    sweep_seconds: Gauge
    auth_configs: Gauge
    circuit_open: Gauge
    dead_letter_entries: Gauge
    budget: Gauge
    overdue: Gauge
    oldest: Gauge


_lock = threading.Lock()
_on: Metrics | None = None


def enable(*, slugs: Iterable[str] = ()) -> Metrics:
    """Create the metrics (once per process; ``slugs``: more slugs to keep, e.g. the
    configured overrides). Every series an alert uses starts at 0, so a first failure shows
    as an increase."""
    global _on  # noqa: PLW0603  (one registry per process)
    with _lock:
        if _on is None:
            _on = _build(KNOWN_SLUGS | frozenset(slugs))
        return _on


def enabled() -> Metrics | None:
    return _on


def _build(slugs: frozenset[str]) -> Metrics:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    r = CollectorRegistry(auto_describe=True)
    m = Metrics(
        registry=r,
        slugs=slugs,
        rotations=Counter(
            "rotator_rotations", "Rotation attempts by outcome (one per canonical log line)",
            ["outcome", "project"], registry=r),
        duration=Histogram(
            "rotator_rotation_duration_seconds", "Duration of a rotation attempt",
            ["outcome", "project"], buckets=_BUCKETS, registry=r),
        patches=Counter(
            "rotator_patches", "PATCHes to Composio by HTTP status (none: no answer) and slug",
            ["status", "slug"], registry=r),
        requests=Counter(
            "rotator_composio_requests", "Requests sent to Composio (each takes a rate-limit "
            "slot when the limiter is on)", ["method"], registry=r),
        retries=Counter(
            "rotator_retries", "Retries: in_call (a blip, inside one call) or requeue (back "
            "to the broker with a countdown)", ["kind"], registry=r),
        dead_letters=Counter(
            "rotator_dead_letters", "Rotations dead-lettered (rotation.failed)", registry=r),
        circuit_changes=Counter(
            "rotator_circuit_transitions", "Fleet breaker changes made by this process",
            ["to"], registry=r),
        adaptations=Counter(
            "rotator_ratelimit_adaptations", "Times the shared rate was lowered after "
            "Composio's answers (ratelimit.adapted)", registry=r),
        sweep_at=Gauge(
            "rotator_last_sweep_timestamp_seconds", "When this process last completed a sweep",
            registry=r),
        sweep_seconds=Gauge(
            "rotator_last_sweep_duration_seconds", "How long the last sweep took", registry=r),
        auth_configs=Gauge(
            "rotator_auth_configs", "Auth configs by state at the last sweep", ["state"],
            registry=r),
        circuit_open=Gauge(
            "rotator_circuit_open", "1 while the shared fleet breaker is open (read at scrape)",
            registry=r),
        dead_letter_entries=Gauge(
            "rotator_dead_letter_entries", "Entries in the dead-letter stream (read at scrape)",
            registry=r),
        budget=Gauge(
            "rotator_ratelimit_budget_requests_per_second", "The shared Composio request "
            "budget this process grants by", registry=r),
        overdue=Gauge(
            "rotator_credentials_overdue", "Live credentials older than their maximum age "
            "(ROTATOR_MAX_AGE or its overrides; read at scrape, cached 30 s)", registry=r),
        oldest=Gauge(
            "rotator_credential_age_max_seconds", "Age of the oldest live credential (from "
            "its Vault version's creation time; read at scrape, cached 30 s)", registry=r),
    )  # fmt: skip
    for outcome in OUTCOMES:
        m.rotations.labels(outcome, PROJECT)
    for kind in ("in_call", "requeue"):
        m.retries.labels(kind)
    for to in ("open", "closed"):
        m.circuit_changes.labels(to)
    for unknown in (m.circuit_open, m.dead_letter_entries, m.budget, m.overdue, m.oldest):
        unknown.set(math.nan)  # until ``watch`` (a worker's runtime) says; beat never does
    return m


def serve(*, host: str, port: int, slugs: Iterable[str] = ()) -> None:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread (raises ``OSError`` when the
    address cannot be bound)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=enable(slugs=slugs).registry)


def watch(
    *,
    circuit_open: Callable[[], bool],
    dead_letters: Callable[[], int],
    budget: Callable[[], float] | None,
    overdue: Callable[[], float] | None = None,
    oldest: Callable[[], float] | None = None,
) -> None:
    """Gauges read at scrape time from the shared state; a failed read shows as NaN."""
    m = _on
    if m is None:
        return
    m.circuit_open.set_function(_guarded(lambda: float(circuit_open())))
    m.dead_letter_entries.set_function(_guarded(lambda: float(dead_letters())))
    if budget is not None:
        m.budget.set_function(_guarded(budget))
    for gauge, read in ((m.overdue, overdue), (m.oldest, oldest)):
        if read is not None:
            gauge.set_function(_guarded(read))


def _guarded(read: Callable[[], float]) -> Callable[[], float]:
    def value() -> float:
        try:
            return read()
        except Exception:  # a scrape must answer even when Redis does not
            return math.nan

    return value


def composio_answer(method: str, status: int | None, slug: str | None) -> None:
    """One request sent to Composio and answered (or not: ``status`` None); a PATCH is also
    counted by its bounded status and slug."""
    if (m := _on) is None:
        return
    m.requests.labels(method if method in _METHODS else "other").inc()
    if method == "PATCH":
        m.patches.labels(_status(status), _slug(m, slug)).inc()


def _status(status: object) -> str:
    ok = isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599
    return str(status) if ok else "none"


def _slug(m: Metrics, slug: object) -> str:
    if slug is None or slug == "":
        return "none"
    return slug if isinstance(slug, str) and slug in m.slugs else "other"


def observe(_: Any, __: str, event_dict: Mapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: count the canonical events; the line itself passes unchanged."""
    m = _on
    event = event_dict.get("event")
    if m is None or not isinstance(event, str):
        return event_dict
    if event.startswith("rotation."):
        _rotation(m, event.removeprefix("rotation."), event_dict)
    elif event == "sweep.completed":
        _sweep(m, event_dict)
    elif event in ("composio.circuit_open", "composio.circuit_closed"):
        m.circuit_changes.labels(event.removeprefix("composio.circuit_")).inc()
    elif event == "ratelimit.adapted":
        m.adaptations.inc()
    return event_dict


def _rotation(m: Metrics, what: str, fields: Mapping[str, Any]) -> None:
    if "outcome" not in fields:  # the Composio client's in-call retry line
        if what == "retrying":
            m.retries.labels("in_call").inc()
        return
    if what not in OUTCOMES:
        return
    m.rotations.labels(what, PROJECT).inc()
    ms = fields.get("duration_ms")
    if isinstance(ms, int | float) and not isinstance(ms, bool) and math.isfinite(ms):
        m.duration.labels(what, PROJECT).observe(max(ms, 0.0) / 1000)
    if what == "retrying":
        m.retries.labels("requeue").inc()
    elif what == "failed":
        m.dead_letters.inc()


def _sweep(m: Metrics, fields: Mapping[str, Any]) -> None:
    m.sweep_at.set(time.time())
    ms = fields.get("duration_ms")
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        m.sweep_seconds.set(ms / 1000)
    for field, state in SWEEP_STATES.items():
        n = fields.get(field)
        if isinstance(n, int) and not isinstance(n, bool):
            m.auth_configs.labels(state).set(n)
