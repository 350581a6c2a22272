"""A bad setting stops ``celery -A rotator.worker.app worker`` and ``beat`` with exit 2 and one line
naming it, before anything connects: Celery's default broker (amqp on localhost) is never tried.
Real subprocesses; the Sentinel cases use a real Sentinel group (tests/sentinel_support.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sentinel_support import MASTER, SentinelGroup

BASE = {
    "VAULT_ADDR": "http://127.0.0.1:8200",
    "VAULT_TOKEN": "t-placeholder",
    "COMPOSIO_API_KEY": "ck_placeholder",
    "ROTATOR_REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens: a connection would hang
}

# (settings, the text the one line must contain)
BAD = {
    "amqp-url": (
        {"ROTATOR_REDIS_URL": "amqp://guest@127.0.0.1:5672//"},
        "must start with redis://, rediss:// or unix://",
    ),
    "sweep-nan": (
        {"ROTATOR_SWEEP_INTERVAL": "nan"},
        "ROTATOR_SWEEP_INTERVAL='nan' is not a finite number",
    ),
    "sweep-1e308": (
        {"ROTATOR_SWEEP_INTERVAL": "1e308"},
        "ROTATOR_SWEEP_INTERVAL='1e308' must be at least 1",
    ),
    "visibility-inf": (
        {"ROTATOR_VISIBILITY_TIMEOUT": "inf"},
        "ROTATOR_VISIBILITY_TIMEOUT='inf' is not a finite number",
    ),
    "bad-port": (
        {"ROTATOR_REDIS_URL": "redis://127.0.0.1:99999/0"},
        "has a port that is not a number",
    ),
    "sentinel-no-master": (
        {"ROTATOR_REDIS_URL": "sentinel://127.0.0.1:1;sentinel://127.0.0.1:2/0"},
        "ROTATOR_REDIS_SENTINEL_MASTER is required",
    ),
    "mixed-schemes": (
        {
            "ROTATOR_REDIS_URL": "sentinel://127.0.0.1:1;redis://127.0.0.1:2/0",
            "ROTATOR_REDIS_SENTINEL_MASTER": "m",
        },
        "mixes schemes",
    ),
    "master-without-sentinel": (
        {"ROTATOR_REDIS_SENTINEL_MASTER": "m"},
        "apply only to sentinel://",
    ),
}


def celery(command: str, env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """``celery -A rotator.worker.app worker|beat``: ``env`` and no inherited ROTATOR_/VAULT_."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATOR_", "VAULT_"))}
    args = ["--pool=threads", "-c", "1"] if command == "worker" else ["-s", str(tmp / "s.db")]
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "rotator.worker.app", command, *args],
        env={**clean, "HOME": str(tmp), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_exit_2_naming(run: subprocess.CompletedProcess[str], expected: str) -> None:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("rotator: invalid configuration: "), lines
    assert expected in lines[0], lines
    assert "Traceback" not in run.stdout + run.stderr
    for sign in ("amqp://guest", "Connected to", "ready", "Cannot connect"):
        assert sign not in run.stdout + run.stderr, sign


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_setting_stops_the_worker_with_exit_2_and_one_line(case: str, tmp_path: Path) -> None:
    """The worker exits 2 with one line naming the setting; it never reaches a broker (it
    would say "Connected to" or keep retrying against Celery's amqp default)."""
    overrides, expected = BAD[case]
    assert_exit_2_naming(celery("worker", {**BASE, **overrides}, tmp_path), expected)


@pytest.mark.parametrize("case", ["amqp-url", "sweep-nan", "visibility-inf", "mixed-schemes"])
def test_a_bad_setting_stops_beat_with_exit_2_and_one_line(case: str, tmp_path: Path) -> None:
    """Beat too: no shelve scheduler without a sweep, exit 2 and the setting named."""
    overrides, expected = BAD[case]
    assert_exit_2_naming(celery("beat", {**BASE, **overrides}, tmp_path), expected)


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_a_master_no_sentinel_knows_stops_worker_and_beat_with_exit_2(
    command: str, sentinel_group: SentinelGroup, tmp_path: Path
) -> None:
    """The sentinels answer but know no master ``nosuch``: exit 2 naming it, not an endless
    reconnect loop; the same settings with the real master name pass this check."""
    env = {**BASE, **sentinel_group.env(), "ROTATOR_REDIS_SENTINEL_MASTER": "nosuch"}
    run = celery(command, env, tmp_path)
    assert_exit_2_naming(run, "ROTATOR_REDIS_SENTINEL_MASTER='nosuch'")
    assert "none of the 3 sentinels that answered" in run.stderr
    assert MASTER != "nosuch"


def test_an_unconfigured_app_fails_closed_instead_of_using_celerys_amqp_default(
    tmp_path: Path,
) -> None:
    """With rotator's settings never applied (its on_configure receiver removed), the worker
    stops on an unknown placeholder transport: it does not fall back to amqp://guest@localhost."""
    code = (
        "import rotator.worker.app as a; a.app.on_configure.disconnect(a._configure); "
        "a.app.worker_main(['worker', '--pool=threads', '-c', '1'])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **BASE, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "No such transport: rotator-unconfigured" in run.stderr
    assert "amqp://" not in run.stdout + run.stderr
