"""rotator.observability.metrics: the canonical log events become bounded metrics; no id,
path, value or key ever becomes a label, and INFO events are counted at any log level."""

from __future__ import annotations

import io

import structlog
from prometheus_client import generate_latest

from rotator.observability import metrics
from rotator.observability.logs import configure_logging

SECRET = "sk_live_METRICS_0123456789abcdef"


def _value(name: str, **labels: str) -> float:
    m = metrics.enable()
    return m.registry.get_sample_value(name, labels) or 0.0


def test_canonical_events_count_rotations_retries_dead_letters_and_sweeps() -> None:
    """Each canonical line moves its metric: outcome counters, the duration histogram, both
    kinds of retry, dead letters, the sweep's gauges and the breaker's transitions."""
    configure_logging("INFO", "json", stream=io.StringIO(), metrics=True)
    log = structlog.get_logger("test")
    before = {
        o: _value("rotator_rotations_total", outcome=o, project="default")
        for o in ("succeeded", "failed", "retrying")
    }
    dead, in_call = (
        _value("rotator_dead_letters_total"),
        _value("rotator_retries_total", kind="in_call"),
    )
    log.info("rotation.succeeded", outcome="succeeded", duration_ms=1234.5, auth_config_id="ac_1")
    log.error("rotation.failed", outcome="failed", duration_ms=10.0, http_status=400)
    log.warning("rotation.retrying", outcome="retry_later", duration_ms=5.0)
    log.warning("rotation.retrying", attempt=1, http_status=503, delay_s=0.1)  # in-call
    log.info("sweep.completed", checked=7, queued=2, skipped=4, quarantined=1, errors=0,
             already_queued=0, paused=0, ambiguous=0, duration_ms=250.0)  # fmt: skip
    log.error("composio.circuit_open", cause="401")
    after = {o: _value("rotator_rotations_total", outcome=o, project="default") for o in before}
    assert {o: after[o] - before[o] for o in before} == {"succeeded": 1, "failed": 1, "retrying": 1}
    assert _value("rotator_dead_letters_total") == dead + 1
    assert _value("rotator_retries_total", kind="in_call") == in_call + 1
    assert (
        _value("rotator_rotation_duration_seconds_sum", outcome="succeeded", project="default")
        >= 1.2345
    )
    assert _value("rotator_auth_configs", state="quarantined") == 1
    assert _value("rotator_auth_configs", state="in_step") == 4
    assert _value("rotator_last_sweep_duration_seconds") == 0.25
    assert _value("rotator_last_sweep_timestamp_seconds") > 1.7e9
    assert _value("rotator_circuit_transitions_total", to="open") >= 1


def test_info_events_are_counted_even_when_the_log_level_hides_them() -> None:
    """At ROTATOR_LOG_LEVEL=WARNING a success is not printed, but it is counted."""
    stream = io.StringIO()
    configure_logging("WARNING", "json", stream=stream, metrics=True)
    before = _value("rotator_rotations_total", outcome="succeeded", project="default")
    structlog.get_logger("test").info("rotation.succeeded", outcome="succeeded", duration_ms=1.0)
    structlog.get_logger("test").debug("sweep.queued", auth_config_id="ac_x")
    structlog.get_logger("test").warning("rotation.waiting_marker")
    assert _value("rotator_rotations_total", outcome="succeeded", project="default") == before + 1
    printed = stream.getvalue()
    assert "rotation.succeeded" not in printed and "sweep.queued" not in printed
    assert "rotation.waiting_marker" in printed


def test_labels_are_bounded_and_carry_no_id_path_value_or_key() -> None:
    """Hostile slugs, statuses and methods fold into `other`/`none`; the ids, paths and the
    secret in the events never reach the exposition."""
    configure_logging("INFO", "json", stream=io.StringIO(), metrics=True)
    m = metrics.enable()
    metrics.composio_answer("PATCH", 400, SECRET)
    metrics.composio_answer("PATCH", 400, "AuthConfig_ValidationError")
    metrics.composio_answer("PATCH", None, None)
    metrics.composio_answer("PATCH", 999, "ac_secret_nanoid")
    metrics.composio_answer(SECRET, 200, None)
    structlog.get_logger("test").error(
        "rotation.failed", outcome="failed", auth_config_id="ac_secret_nanoid",
        vault_path="secret/composio/ac_secret_nanoid", error=SECRET, error_slug=SECRET,
    )  # fmt: skip
    structlog.get_logger("test").info(f"rotation.{SECRET}", outcome="failed")
    text = generate_latest(m.registry).decode()
    assert 'rotator_patches_total{slug="other",status="400"}' in text
    assert 'rotator_patches_total{slug="AuthConfig_ValidationError",status="400"}' in text
    assert 'rotator_patches_total{slug="none",status="none"}' in text
    assert 'rotator_patches_total{slug="other",status="none"}' in text
    assert 'rotator_composio_requests_total{method="other"}' in text
    for leak in (SECRET, "ac_secret_nanoid", "composio/", "sk_live"):
        assert leak not in text
    labels = {"outcome", "project", "status", "slug", "method", "kind", "to", "state", "le"}
    samples = [line for line in text.splitlines() if "{" in line and not line.startswith("#")]
    used = {pair.split("=")[0] for line in samples
            for pair in line[line.index("{") + 1 : line.index("}")].split(",")}  # fmt: skip
    assert used <= labels


def test_a_metrics_port_that_cannot_be_bound_is_a_config_error() -> None:
    """A taken ROTATOR_METRICS_PORT stops the process with one line naming it (exit 2 in
    `worker`/`beat`), instead of running without the metrics someone asked for."""
    import dataclasses
    import socket

    import pytest

    from rotator.core.errors import ConfigError
    from rotator.settings.load import load_settings
    from rotator.worker.exporter import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"VAULT_ADDR": "http://127.0.0.1:8200", "VAULT_TOKEN": "t" * 8,
               "ROTATOR_FINGERPRINT_KEY": "k" * 32, "COMPOSIO_API_KEY": "ck_unit_test",
               "ROTATOR_METRICS_PORT": str(port)}  # fmt: skip
        s = load_settings(env)
        assert (s.metrics_port, s.metrics_host) == (port, "127.0.0.1")
        with pytest.raises(
            ConfigError, match=f"ROTATOR_METRICS_PORT: cannot serve metrics on 127.0.0.1:{port}"
        ):
            serve(s)
        serve(dataclasses.replace(s, metrics_port=None))  # unset: off, nothing bound
