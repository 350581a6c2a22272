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


def celery(
    command: str, env: dict[str, str], tmp: Path, *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``celery -A rotator.worker.app worker|beat``: ``env`` and no inherited ROTATOR_/VAULT_."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATOR_", "VAULT_"))}
    args = ["--pool=threads", "-c", "1"] if command == "worker" else ["-s", str(tmp / "s.db")]
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "rotator.worker.app", command, *args],
        env={**clean, "HOME": str(tmp), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
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


# (bindings file bytes, the text the one line must contain). The dotted key is 3,000 deep: deep
# enough to be refused, shallow enough that tomllib reads it in a fraction of a second (its cost
# grows with the square of the depth: 100,000 levels would take tens of GB).
BAD_BINDINGS = {
    "invalid-toml": (b"[[binding]\n", "not valid TOML"),
    "not-utf8": (b'[[binding]]\nauth_config = "ac_\xff"\n', "not UTF-8 text (byte 30 is 0xff)"),
    "nested-arrays": (b"a = " + b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32 levels"),
    "dotted-keys": (b"a" + b".a" * 3_000 + b" = 1\n", "nested deeper than 32 levels (line 1)"),
    "look-alike-nanoid": (
        b'[[binding]]\nauth_config = "ac_g\xd0\xbe\xd0\xbed"\npath = "p"\n'
        b'credentials = {a = "b"}\n',
        r"auth_config 'ac_g\u043e\u043ed' is not a nanoid",
    ),
}
COMMANDS = ["celery-worker", "celery-beat", "rotator-worker", "rotator-beat"]


def start(command: str, env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """``command`` (one of ``COMMANDS``) as a subprocess; a process that starts instead of
    refusing is stopped after 20 s (it would wait for the broker for ever)."""
    tool, what = command.split("-")
    if tool == "celery":
        return celery(what, env, tmp, timeout=20)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATOR_", "VAULT_"))}
    args = ["-c", "1"] if what == "worker" else ["--schedule", str(tmp / "s.db")]
    return subprocess.run(
        [sys.executable, "-m", "rotator", what, *args],
        env={**clean, "HOME": str(tmp), **env},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", sorted(BAD_BINDINGS))
def test_a_bad_bindings_file_stops_worker_and_beat_with_exit_2_and_one_line(
    case: str, command: str, tmp_path: Path
) -> None:
    """Invalid TOML, non-UTF-8 bytes, arrays nested 100,000 deep, dotted keys 3,000 deep and a
    look-alike nanoid (two Cyrillic U+043E) each stop the worker and beat, started by celery or
    by rotator, before anything connects: exit 2, one line naming the file's problem."""
    raw, expected = BAD_BINDINGS[case]
    path = tmp_path / "bindings.toml"
    path.write_bytes(raw)
    run = start(command, {**BASE, "ROTATOR_BINDINGS_FILE": str(path)}, tmp_path)
    assert_exit_2_naming(run, expected)
    assert f"ROTATOR_BINDINGS_FILE {path}" in run.stderr or "bindings.toml binding #1" in run.stderr
