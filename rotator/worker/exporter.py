"""Prometheus metrics for the worker and beat processes (``ROTATOR_METRICS_PORT``).

``serve`` starts ``/metrics`` when the process starts (Celery's ``worker_init`` and ``beat_init``;
one registry per process: the worker's threads pool shares it). ``watch`` adds the gauges read
from the shared state at scrape time, once the worker has its runtime. The counters themselves
are fed by the log pipeline (``rotator.observability.metrics``).
"""

from __future__ import annotations

from typing import cast

from rotator.core.circuit import decode
from rotator.core.errors import ConfigError
from rotator.observability import metrics
from rotator.runtime import Runtime
from rotator.settings.load import Settings
from rotator.state.keys import Keys
from rotator.worker.agegauge import AgeSnapshot

__all__ = ["serve", "watch"]


def serve(s: Settings) -> None:
    """Serve ``http://HOST:PORT/metrics`` when ``ROTATOR_METRICS_PORT`` is set; a port that
    cannot be bound is a configuration error (exit 2), not a silent absence of metrics."""
    if s.metrics_port is None:
        return
    try:
        metrics.serve(host=s.metrics_host, port=s.metrics_port, slugs=s.slug_overrides)
    except (OSError, ValueError) as exc:
        where = f"{s.metrics_host}:{s.metrics_port}"
        raise ConfigError(
            f"ROTATOR_METRICS_PORT: cannot serve metrics on {where} ({type(exc).__name__}: "
            f"{exc.strerror if isinstance(exc, OSError) and exc.strerror else 'bad address'})"
        ) from None


def watch(rt: Runtime) -> None:
    """The shared state's gauges (no-op unless metrics are on): the fleet breaker, the
    dead-letter stream's length, the rate budget this process grants by, and the credential
    ages (the report's rows from the cached catalog, at most every 30 s, a scrape never
    waiting more than 2 s for them: ``worker.agegauge``)."""
    if metrics.enabled() is None:
        return
    r = rt.state.redis
    limiter = rt.limiter
    ages = AgeSnapshot(lambda: rt.age_rows(rt.catalog.view()))
    metrics.watch(
        circuit_open=lambda: decode(cast(str | None, r.get(Keys.circuit))).open,
        dead_letters=lambda: int(r.xlen(Keys.dead_letter)),
        budget=(lambda: limiter.budget.per_second) if limiter is not None else None,
        overdue=lambda: ages.read().overdue,
        oldest=lambda: ages.read().oldest,
    )
