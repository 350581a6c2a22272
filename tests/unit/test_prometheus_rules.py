"""deploy/observability/prometheus-rules.yaml under `promtool test rules`: each alert fires on the
series a real failure produces, stays quiet without it, and renders its annotations.

promtool is Prometheus' own rule tester (Debian's `prometheus` package ships it); the test fails,
never skips, when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.paths import ROOT

RULES = ROOT / "deploy/observability/prometheus-rules.yaml"
INSTALL = "install Prometheus' tools: `apt-get install -y prometheus` (ships /usr/bin/promtool)"
W1 = 'job="rotator",instance="w1"'


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(f"promtool is not installed: {INSTALL}", pytrace=False)
    return found


def _rule(alert: str) -> dict[str, Any]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    [rule] = [r for g in groups for r in g["rules"] if r.get("alert") == alert]
    return dict(rule)


def _expected(alert: str, labels: dict[str, str], value: str = "") -> dict[str, Any]:
    """The alert as promtool should report it: its labels, and its annotations with the three
    template forms the rules use filled in."""
    rule = _rule(alert)
    annotations = {
        k: v.replace("{{ $labels.project }}", labels.get("project", ""))
        .replace("{{ $value | humanizePercentage }}", value)
        .replace("{{ $value | humanize }}", value)
        .replace("{{ $value }}", value)
        for k, v in rule["annotations"].items()
    }
    return {"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}


# (alert, input series, [(eval time, expected alerts)])
CASES: list[tuple[str, list[tuple[str, str]], list[tuple[str, list[dict[str, Any]]]]]] = [
    (
        "RotatorRotationFailed",
        [
            (f'rotator_rotations_total{{outcome="failed",project="default",{W1}}}', "0 0 0 1 1"),
            (f'rotator_rotations_total{{outcome="succeeded",project="default",{W1}}}', "0 5 9"),
        ],
        [("2m", []), ("4m", [_expected("RotatorRotationFailed", {"project": "default"})])],
    ),
    (
        "RotatorDeadLetterGrowing",
        [(f"rotator_dead_letters_total{{{W1}}}", "0+1x60")],
        [("20m", []), ("50m", [_expected("RotatorDeadLetterGrowing", {}, "16.67m")])],  # 1/min
    ),
    (
        "RotatorNoSweep",
        # a sweep every minute until 3m, then none: stale after 6m, firing 5m later
        [(f"rotator_last_sweep_timestamp_seconds{{{W1}}}", "0 60 120 180 180x20")],
        [("5m", []), ("12m", [_expected("RotatorNoSweep", {})])],
    ),
    (
        "RotatorCircuitOpen",
        [
            (f"rotator_circuit_open{{{W1}}}", "0 0 1 1"),
            ('rotator_circuit_open{instance="b"}', "NaN"),
        ],
        [("1m", []), ("2m", [_expected("RotatorCircuitOpen", {})])],
    ),
    (
        "RotatorQuarantine",
        [(f'rotator_auth_configs{{state="quarantined",{W1}}}', "0 2")],
        [("0m", []), ("1m", [_expected("RotatorQuarantine", {}, "2")])],
    ),
    (
        "RotatorAmbiguousSource",
        [(f'rotator_auth_configs{{state="ambiguous",{W1}}}', "0 1")],
        [("0m", []), ("1m", [_expected("RotatorAmbiguousSource", {}, "1")])],
    ),
    (
        "RotatorRateLimitSaturated",
        [
            (f"rotator_ratelimit_budget_requests_per_second{{{W1}}}", "1x40"),
            (f'rotator_composio_requests_total{{method="PATCH",{W1}}}', "0+57x40"),
        ],
        [("10m", []), ("25m", [_expected("RotatorRateLimitSaturated", {}, "95%")])],
    ),
    (
        "RotatorCredentialOverdue",
        # overdue from 5m; a beat (no runtime) reports NaN, which max() passes over
        [
            (f"rotator_credentials_overdue{{{W1}}}", "0 0 0 0 0 3x30"),
            ('rotator_credentials_overdue{instance="b"}', " ".join(["NaN"] * 35)),
        ],
        [("15m", []), ("21m", [_expected("RotatorCredentialOverdue", {}, "3")])],
    ),
]


def _test_file(tmp: Path) -> Path:
    tests = [
        {
            "name": alert,
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series],
            "alert_rule_test": [
                {"eval_time": t, "alertname": alert, "exp_alerts": exp} for t, exp in checks
            ],
        }
        for alert, series, checks in CASES
    ]
    path = tmp / "prometheus-rules-test.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "tests": tests}), "utf-8")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_rules_file() -> None:
    """`promtool check rules` parses every rule and expression of the shipped file."""
    res = _run("check", "rules", str(RULES))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"SUCCESS: {len(CASES)} rules found" in res.stdout


def test_every_alert_fires_on_its_failure_and_not_before(tmp_path: Path) -> None:
    """`promtool test rules`: every alert of the file is covered, quiet before its failure,
    firing (labels and rendered annotations exact) once it happened."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    assert alerts == {alert for alert, _, _ in CASES}
    res = _run("test", "rules", str(_test_file(tmp_path)))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout
