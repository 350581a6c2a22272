"""``rotator bench``: rotator against bare-loop baselines on a loopback stack it starts itself.

Only ``click`` is imported here; everything heavy is imported when the command runs.
"""

from __future__ import annotations

import sys

import click

__all__ = ["bench"]


@click.command()
@click.option(
    "--configs",
    default=1000,
    show_default=True,
    type=click.IntRange(10),
    help="Auth configs in the full-rotation (and rate-limit) measure.",
)
@click.option(
    "--sweep-configs",
    default=10000,
    show_default=True,
    type=click.IntRange(10),
    help="Auth configs in the no-op sweep and peak-RSS measures.",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 32),
    help="Worker subprocesses (the bare loops use as many processes).",
)
@click.option(
    "--concurrency",
    default=16,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Threads per worker (and per bare-loop process).",
)
@click.option(
    "--reps",
    default=3,
    show_default=True,
    type=click.IntRange(1, 20),
    help="Alternating runs per throughput measure (medians are compared).",
)
@click.option("--latency-writes", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option(
    "--sweep-interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(1),
    help="ROTATOR_SWEEP_INTERVAL of the latency measure (seconds).",
)
@click.option(
    "--rate-limit",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="Requests per --rate-window, enforced by the emulator and set in rotator.",
)
@click.option("--rate-window", default=10.0, show_default=True, type=click.FloatRange(1))
@click.option(
    "--rate-windows",
    default=3,
    show_default=True,
    type=click.IntRange(1, 20),
    help="Emulator windows observed.",
)
@click.option(
    "--sync-budget",
    default=300.0,
    show_default=True,
    type=click.FloatRange(10),
    help="Seconds the first sync of --sweep-configs may take (peak-RSS measure).",
)
@click.option("--quick", is_flag=True, help="Small sizes: a smoke test in well under a minute.")
@click.option(
    "--only",
    multiple=True,
    metavar="PHASE",
    help="Run only the phases whose name starts with PHASE (repeatable), e.g. 'full rotation'.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    help="Also write the rows, the machine and the notes to this JSON file.",
)
def bench(  # noqa: PLR0917  (click passes options positionally)
    configs: int,
    sweep_configs: int,
    workers: int,
    concurrency: int,
    reps: int,
    latency_writes: int,
    sweep_interval: float,
    rate_limit: int,
    rate_window: float,
    rate_windows: int,
    sync_budget: float,
    quick: bool,
    only: tuple[str, ...],
    json_path: str | None,
) -> None:
    """Benchmark rotator on its own loopback stack (OpenBao dev, Redis, the emulator in a
    subprocess, worker subprocesses) and print each figure next to a baseline from the same run."""
    from benchmarks.suite.options import Options
    from benchmarks.suite.run import PHASES, run_bench

    names = [label for label, _ in PHASES]
    for wanted in only:
        if not any(n.startswith(wanted) for n in names):
            raise click.BadParameter(
                f"no phase starts with {wanted!r}; phases: {names}", param_hint="--only"
            )

    options = Options(
        configs=configs,
        sweep_configs=sweep_configs,
        workers=workers,
        concurrency=concurrency,
        reps=reps,
        latency_writes=latency_writes,
        sweep_interval=sweep_interval,
        rate_limit=rate_limit,
        rate_window=rate_window,
        rate_windows=rate_windows,
        sync_budget=sync_budget,
        quick=quick,
    )
    chosen = [n for n in names if not only or any(n.startswith(w) for w in only)]
    sys.exit(run_bench(options, json_path, phases=chosen))
