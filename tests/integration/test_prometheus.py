"""A real Prometheus server scrapes a real `rotator worker` and `rotator beat`
(ROTATOR_METRICS_PORT) while Composio rejects one auth config's PATCH for good: the shipped rule
RotatorRotationFailed fires, every panel query of the shipped dashboard runs, and /metrics holds
no id or secret.

Prometheus (Debian's `prometheus` package: /usr/bin/prometheus) runs on a free loopback port with
a temporary config and storage and 1 s scrape and evaluation intervals (its config, not
rotator's). The test fails, never skips, when it is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rotator.devkit.emulator import Fault
from rotator.devkit.sandbox import free_port
from tests.faults_support import events
from tests.helpers import COMPOSIO_KEY, Stack
from tests.leakcheck import assert_no_leak
from tests.paths import ROOT
from tests.procs import Procs, wait_until

RULES = ROOT / "deploy/observability/prometheus-rules.yaml"
DASHBOARD = ROOT / "deploy/observability/grafana-dashboard-prometheus.json"
INSTALL = "install it: `apt-get install -y prometheus` (Debian ships the server and promtool)"
FAILED_LINE = r'"event": "rotation\.failed"'
GOOD, BAD = "sk_live_PROM_good_0123456789abcdef", "sk_live_PROM_bad_fedcba9876543210"


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (loopback)
        return bytes(answer.read())


def _api(base: str, path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    body = json.loads(_get(f"{base}/api/v1/{path}{query}"))
    assert body["status"] == "success", body
    return body["data"]


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[list[Prometheus]]:
    started: list[Prometheus] = []
    yield started
    for p in started:
        p.proc.terminate()
        try:
            p.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.proc.kill()
            p.proc.wait(timeout=5)


def start_prometheus(started: list[Prometheus], tmp: Path, targets: list[str]) -> Prometheus:
    """Prometheus with the shipped rules, scraping ``targets`` every second."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(binary).exists():
        pytest.fail(f"the Prometheus server is not installed: {INSTALL}", pytrace=False)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "rotator", "static_configs": [{"targets": targets}]}],
    }
    (tmp / "prometheus.yml").write_text(json.dumps(config), "utf-8")  # JSON is YAML
    port, log = free_port(), tmp / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'prometheus-data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    p = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    started.append(p)

    def ready() -> bool:
        assert proc.poll() is None, f"prometheus exited:\n{log.read_text(errors='replace')}"
        try:
            return _get(f"{p.url}/-/ready", timeout=1) is not None
        except OSError:
            return False

    wait_until("Prometheus to be ready", ready, timeout=30)
    return p


def _when(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00")).timestamp()


def test_prometheus_scrapes_a_worker_and_fires_the_alert_for_a_real_failure(
    stack: Stack, procs: Procs, tmp_path: Path, prometheus_factory: list[Prometheus]
) -> None:
    """A PATCH rejected with 400 AuthConfig_ValidationError (every time) is dead-lettered by a
    real worker; Prometheus, scraping it and beat each second, fires RotatorRotationFailed for
    project "default"; every dashboard query succeeds (the key ones with data); with
    ROTATOR_MAX_AGE=1s the pushed credential counts as overdue (the one never pushed, age
    unknown, does not); the worker's /metrics names no auth config and holds no secret in any
    encoding."""
    stack.put("ac_prom1", {"credentials": {"client_secret": GOOD}})
    stack.emu.inject(Fault(status=400, slug="AuthConfig_ValidationError"), nanoid="ac_prom2",
                     times=None)  # fmt: skip
    worker_port, beat_port = free_port(), free_port()
    procs.env["ROTATOR_MAX_AGE"] = "1s"  # ac_prom1's pushed version is overdue a second later
    procs.env["ROTATOR_METRICS_PORT"] = str(worker_port)
    procs.worker("w1")
    procs.env["ROTATOR_METRICS_PORT"] = str(beat_port)
    procs.beat("b1")
    targets = [f"127.0.0.1:{worker_port}", f"127.0.0.1:{beat_port}"]
    prom = start_prometheus(prometheus_factory, tmp_path, targets)

    def both_up() -> bool:
        active = _api(prom.url, "targets")["activeTargets"]
        return len(active) == 2 and all(t["health"] == "up" for t in active)

    wait_until("Prometheus to scrape the worker and beat", both_up, timeout=60)
    # The failure comes once Prometheus has scraped the worker's zero: increase() needs a sample
    # before the counter moves (a series first seen at 1 shows no increase), as in production,
    # where a worker runs for a while before a rotation fails.
    stack.put("ac_prom2", {"credentials": {"client_secret": BAD}})

    def firing() -> bool:
        alerts = _api(prom.url, "alerts")["alerts"]
        return any(
            a["labels"]["alertname"] == "RotatorRotationFailed" and a["state"] == "firing"
            for a in alerts
        )

    wait_until("RotatorRotationFailed to fire", firing, timeout=90)
    fired_at = time.time()
    [alert] = [a for a in _api(prom.url, "alerts")["alerts"]
               if a["labels"]["alertname"] == "RotatorRotationFailed"]  # fmt: skip
    assert alert["labels"] == {"alertname": "RotatorRotationFailed", "project": "default",
                               "severity": "warning"}  # fmt: skip
    failed = events(procs.output(), "rotation.failed")
    assert failed and failed[0]["auth_config_id"] == "ac_prom2"
    assert stack.emu.credentials("ac_prom1") == {"client_secret": GOOD}

    needed = ("rotator_rotations_total", "rotator_patches_total", "rotator_auth_configs",
              'rotator_rotation_duration_seconds_bucket{outcome="succeeded"}',
              "rotator_credentials_overdue", "rotator_credential_age_max_seconds")  # fmt: skip

    def panels_have_data() -> bool:  # a rate needs two samples of a series, a second apart
        empty = _panel_queries(prom.url)
        return not [e for e in empty for n in needed if n in e]

    wait_until("the dashboard's key panels to show data", panels_have_data, timeout=30)

    def one_overdue() -> bool:  # counted at scrape, cached 30 s: the first may predate the push
        [row] = _api(prom.url, "query", query="max(rotator_credentials_overdue)")["result"]
        return bool(row["value"][1] == "1")

    wait_until("rotator_credentials_overdue to count ac_prom1", one_overdue, timeout=60)

    scrapes = [t["lastScrapeDuration"] for t in _api(prom.url, "targets")["activeTargets"]]
    metrics_text = _get(f"http://127.0.0.1:{worker_port}/metrics").decode()
    beat_text = _get(f"http://127.0.0.1:{beat_port}/metrics").decode()
    assert 'rotator_patches_total{slug="AuthConfig_ValidationError",status="400"}' in metrics_text
    for text in (metrics_text, beat_text):
        assert "ac_prom" not in text and "composio/" not in text
    secrets = [GOOD, BAD, COMPOSIO_KEY, stack.env["ROTATOR_FINGERPRINT_KEY"],
               stack.env["VAULT_TOKEN"]]  # fmt: skip
    assert_no_leak(
        {"worker /metrics": metrics_text, "beat /metrics": beat_text},
        secrets,
        {"worker /metrics": "rotator_rotations_total", "beat /metrics": "rotator_patches"},
    )
    print(
        f"scrape durations {scrapes} s; RotatorRotationFailed firing "
        f"{fired_at - _when(failed[0]):.1f} s after the first rotation.failed line"
    )
    procs.assert_clean(allowed=[FAILED_LINE])


def _panel_queries(base: str) -> list[str]:
    """Run every panel query of the dashboard as an instant query; all must succeed. Returns
    those that found no data (a panel query can be right and empty, e.g. no breaker change)."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 12
    empty = []
    for expr in exprs:
        data = _api(base, "query", query=expr)  # a query error fails here, naming it
        if not data["result"]:
            empty.append(expr)
    return empty
