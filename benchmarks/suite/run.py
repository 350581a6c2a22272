"""One ``rotator bench`` run: start the stack, seed the fleets, run each phase, print the table.

A phase that fails becomes an ERROR row (its message says why) and the others still run; the
exit code is 1 when any phase failed, else 0 (a missed target is a result, not a failure).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from benchmarks.suite.commands import measure_commands
from benchmarks.suite.compliance import measure_compliance, measure_starter
from benchmarks.suite.latency import measure_latency
from benchmarks.suite.memory import measure_memory
from benchmarks.suite.noop import measure_noop_sweep
from benchmarks.suite.options import Context, Options, fleets
from benchmarks.suite.report import Row, error_row, machine_info, print_report, write_json
from benchmarks.suite.rotation import measure_rotation
from benchmarks.suite.seed import write_versions
from benchmarks.suite.stack import BenchStack
from benchmarks.suite.watchframe import measure_watch
from rotator.devkit.sandbox.processes import SandboxError

__all__ = ["PHASES", "run_bench"]

Phase = Callable[[Context], Row | list[Row]]

PHASES: list[tuple[str, Phase]] = [
    ("full rotation", measure_rotation),
    ("first sync and peak worker RSS", measure_memory),
    ("no-op sweep", measure_noop_sweep),
    ("plan and status --json", measure_commands),
    ("status --watch", measure_watch),
    ("detection latency", measure_latency),
    ("rate-limit compliance", measure_compliance),
    ("Starter rate limit", measure_starter),
]


def _seed(ctx: Context, clock: Callable[[], str]) -> None:
    threads = ctx.options.threads
    for name, f in ctx.fleets.items():
        seconds = write_versions(ctx.stack.vault, f.nanoids, f, threads)
        ctx.versions[name] = 1
        click.echo(
            f"{clock()} seeded {len(f.nanoids):,} {name} secrets in {seconds:.1f} s", err=True
        )
        if name == "sweep":
            ctx.note(
                f"seeding {len(f.nanoids):,} secrets into OpenBao (VaultClient.write_secret, "
                f"{threads} threads): {seconds:.1f} s ({len(f.nanoids) / seconds:,.0f} writes/s)"
            )


def run_bench(
    options: Options, json_path: str | None = None, phases: list[str] | None = None
) -> int:
    """Every phase (or those named in ``phases``), one table; the exit code as above."""
    from rotator.observability.logs import configure_logging

    o = options.effective()
    fl = fleets(o)
    logdir = Path(tempfile.mkdtemp(prefix="rotator-bench-"))
    began = time.monotonic()

    def clock() -> str:
        return f"[{time.monotonic() - began:6.1f} s]"

    load = os.getloadavg()[0]
    click.echo(f"{clock()} rotator bench: logs in {logdir}", err=True)
    rows: list[Row] = []
    failed = False
    with open(os.devnull, "w") as devnull:
        configure_logging("INFO", "json", stream=devnull)  # the in-process sweep logs as usual
        stack = BenchStack([n for f in fl.values() for n in f.nanoids], logdir)
        try:
            stack.start()
        except SandboxError as exc:
            click.echo(f"rotator bench: the stack did not start: {exc}", err=True)
            return 1
        with contextlib.closing(stack):
            click.echo(f"{clock()} stack up in {stack.started_in:.1f} s", err=True)
            ctx = Context(o, stack, fl, logdir)
            _seed(ctx, clock)
            machine = machine_info(stack.redis.binary, stack.bao.binary)
            for label, phase in PHASES:
                if phases is not None and label not in phases:
                    continue
                click.echo(f"{clock()} {label} ...", err=True)
                try:
                    out = phase(ctx)
                except Exception as exc:  # one phase failing must not hide the others
                    failed = True
                    rows.append(error_row(label, exc))
                    click.echo(f"{clock()} {label} failed: {exc}", err=True)
                    continue
                rows.extend(out if isinstance(out, list) else [out])
    ctx.note(
        f"total run time {time.monotonic() - began:.0f} s; 1-min load average {load:.1f} at "
        f"the start, {os.getloadavg()[0]:.1f} at the end; logs in {logdir}"
    )
    print_report(rows, machine, ctx.notes)
    if json_path:
        write_json(json_path, rows, machine, ctx.notes)
    return 1 if failed else 0
