"""``python -m benchmarks.suite --quick`` end to end: its own stack, every row, a number in every
figure; and the benchmark is a development tool, not a ``rotator`` command.

Not a timed test: nothing here asserts on speed, only that each measure ran and was reported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROWS = (
    "full rotation",
    "no-op sweep",
    "detection latency p50",
    "detection latency p95",
    "rate-limit compliance",
    "429 answers",
    "peak worker RSS",
    "first sync",
    "rotator plan --json",
    "rotator status --json",
    "status --watch refresh",
    "Starter rate limit",
    "Starter-limit 429 answers",
)
NUMBER = re.compile(r"\d+(\.\d+)?")


def test_bench_is_not_on_the_production_command() -> None:
    """`rotator --help` lists no bench; `python -m benchmarks.suite --help` shows its options."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATOR_", "VAULT_"))}

    def help_of(module: str) -> str:
        argv = [sys.executable, "-m", module, "--help"]
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=60, check=True
        ).stdout

    top, dev = help_of("rotator"), help_of("benchmarks.suite")
    assert "bench" not in top and "rotate" in top
    assert "python -m benchmarks.suite" in dev and "--quick" in dev


def test_bench_quick_prints_every_row_with_numbers() -> None:
    """Every measure runs on its own stack and is printed with a number and a baseline."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.suite", "--quick"],
        env={k: v for k, v in os.environ.items() if not k.startswith(("ROTATOR_", "VAULT_"))},
        capture_output=True,
        text=True,
        timeout=300,  # a smoke run: ~60 s alone, far more on a loaded machine
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cells = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in proc.stdout.splitlines()
        if line.startswith("|")
    ]
    assert cells[0] == ["measure", "rotator", "baseline", "ratio/target", "verdict"]
    rows = {row[0]: row for row in cells[1:]}
    for name in ROWS:
        found = [row for measure, row in rows.items() if measure.startswith(name)]
        assert len(found) == 1, f"no single row for {name!r} in:\n{proc.stdout}"
        _, ours, baseline, ratio, verdict = found[0]
        assert NUMBER.search(ours), found[0]
        assert NUMBER.search(baseline), found[0]
        assert NUMBER.search(ratio), found[0]
        assert verdict in ("ok", "MISS", "-"), found[0]
    assert "machine: nproc " in proc.stdout
    assert re.search(r"redis \d", proc.stdout)
    assert re.search(r"openbao v\d", proc.stdout)


def test_only_names_known_phases_and_an_unknown_one_is_refused_before_any_server_starts() -> None:
    """`--only` picks phases by the start of their names; a name no phase starts with is one
    clear error listing the phases (exit 2), and nothing is started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROTATOR_", "VAULT_"))}
    argv = [sys.executable, "-m", "benchmarks.suite", "--only", "full rot", "--only", "nothing"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "no phase starts with 'nothing'" in done.stderr and "'full rotation'" in done.stderr
    assert "stack up" not in done.stderr and "Traceback" not in done.stderr
