"""The benchmark's output: one row per figure, the machine it ran on, notes; text or JSON."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

__all__ = ["Row", "error_row", "machine_info", "print_report", "time_row", "write_json"]

OK, MISS, ERROR = "ok", "MISS", "ERROR"


@dataclass
class Row:
    """One measure: rotator's figure, the baseline's, the ratio (or share) against the target."""

    measure: str
    rotator: str
    baseline: str
    ratio: str
    verdict: str
    values: dict[str, float] = field(default_factory=dict)


def error_row(measure: str, exc: BaseException) -> Row:
    return Row(measure, "-", "-", f"{type(exc).__name__}: {exc}"[:200], ERROR)


def verdict(ok: bool) -> str:
    return OK if ok else MISS


def time_row(
    measure: str, n: int, seconds: float, baseline: float, *, versus: str, target: float
) -> Row:
    """rotator's seconds for ``n`` items against the baseline's (``versus`` says what it is):
    lower is better, the ratio must stay within ``target``."""
    ratio = seconds / baseline
    return Row(
        measure,
        f"{seconds:.2f} s ({n / seconds:,.0f}/s)",
        f"{baseline:.2f} s ({n / baseline:,.0f}/s) {versus}",
        f"{ratio:.2f}x (target <= {target}x)",
        verdict(ratio <= target),
        {"rotator_s": seconds, "baseline_s": baseline, "ratio": ratio},
    )


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def _version(argv: list[str], pattern: str) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return "unknown"
    match = re.search(pattern, out)
    return match.group(1) if match else "unknown"


def machine_info(redis_binary: str, bao_binary: str) -> dict[str, str]:
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        mem = "unknown"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "nproc": str(affinity or os.cpu_count() or "?"),
        "cpu": _cpu_model(),
        "memory": mem,
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "redis": _version([redis_binary, "--version"], r"v=(\S+)"),
        "openbao": _version([bao_binary, "version"], r"OpenBao (v\S+)"),
    }


def print_report(rows: list[Row], machine: dict[str, str], notes: list[str]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    width = max(shutil.get_terminal_size((200, 24)).columns, 200)
    console = Console(width=width, highlight=False, soft_wrap=False)
    table = Table(box=box.ASCII2, show_lines=False, title="rotator bench")
    for name in ("measure", "rotator", "baseline", "ratio/target", "verdict"):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(row.measure, row.rotator, row.baseline, row.ratio, row.verdict)
    console.print(table)
    click.echo("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))  # unwrapped
    for note in notes:
        click.echo(f"- {note}")


def write_json(path: str, rows: list[Row], machine: dict[str, str], notes: list[str]) -> None:
    doc: dict[str, Any] = {
        "machine": machine,
        "rows": [asdict(r) for r in rows],
        "notes": notes,
    }
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")
