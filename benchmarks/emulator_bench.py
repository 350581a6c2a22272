"""How many PATCH/s the Composio emulator sustains, so it is never a benchmark's bottleneck.

    .venv/bin/python benchmarks/emulator_bench.py [--threads 8 32] [--seconds 3]
        [--mode both|in-process|subprocess] [--processes 2]

Each client thread owns one keep-alive ``httpx.Client`` and PATCHes its own auth config in a
loop. ``in-process``: the emulator runs in this process, sharing the GIL with the httpx
clients, the way tests use it. ``subprocess``: it runs as
``python -m rotator.devkit.emulator`` (as in
docker-compose) and the client threads are spread over ``--processes`` processes; the script
also reads the emulator's CPU time from /proc to print its cost per PATCH and the PATCH/s one
core could serve, which is the number that says whether it can be a bottleneck.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

from rotator.devkit.emulator import Emulator

HEADERS = {"x-api-key": "test-key", "content-type": "application/json"}
BODY = b'{"type": "custom", "credentials": {"client_secret": "rotated-secret-value"}}'


@contextlib.contextmanager
def in_process(configs: int) -> Iterator[tuple[str, int | None]]:
    with Emulator() as emu:
        for i in range(configs):
            emu.add_auth_config(f"ac_{i}", credentials={"client_id": "id", "client_secret": "s"})
        yield emu.url, None


@contextlib.contextmanager
def in_subprocess(configs: int) -> Iterator[tuple[str, int | None]]:
    seeds = [f"ac_{i}" for i in range(configs)]
    cmd = [sys.executable, "-m", "rotator.devkit.emulator", "--port", "0", "--seed-config", *seeds]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        match = re.search(r"http://\S+", proc.stdout.readline())
        if match is None:
            raise RuntimeError("the emulator did not report its URL")
        yield match.group(0), proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process, from /proc (Linux); None elsewhere."""
    stat = Path(f"/proc/{pid}/stat")
    if pid is None or not stat.exists():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker(url: str, nanoid: str, deadline: float, results: list[tuple[int, int]]) -> None:
    done = failed = 0
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10.0) as client:
        while time.perf_counter() < deadline:
            response = client.patch(f"/api/v3/auth_configs/{nanoid}", content=BODY)
            if response.status_code == 200:
                done += 1
            else:
                failed += 1
    results.append((done, failed))


def run_threads(url: str, first: int, threads: int, seconds: float) -> tuple[int, int, float]:
    """PATCH from ``threads`` threads for ``seconds``; (ok, failed, elapsed)."""
    results: list[tuple[int, int]] = []
    deadline = time.perf_counter() + seconds
    pool = [
        threading.Thread(target=worker, args=(url, f"ac_{first + i}", deadline, results))
        for i in range(threads)
    ]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(r[0] for r in results), sum(r[1] for r in results), time.perf_counter() - start


def run_processes(url: str, threads: int, seconds: float, processes: int) -> tuple[float, int]:
    """PATCH/s summed over ``processes`` client processes, and the non-200 count."""
    share = [threads // processes + (i < threads % processes) for i in range(processes)]
    firsts = [sum(share[:i]) for i in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        futures = [
            pool.submit(run_threads, url, first, n, seconds)
            for first, n in zip(firsts, share, strict=True)
        ]
        results = [f.result() for f in futures]
    return sum(ok / elapsed for ok, _, elapsed in results), sum(r[1] for r in results)


def bench(
    mode: str,
    runner: Callable[[int], contextlib.AbstractContextManager[tuple[str, int | None]]],
    args: argparse.Namespace,
) -> None:
    processes = args.processes if mode == "subprocess" else 1
    with runner(max(args.threads)) as (url, pid):
        for threads in args.threads:
            cpu_before = cpu_seconds(pid)
            if processes == 1:
                ok, failed, elapsed = run_threads(url, 0, threads, args.seconds)
                rate = ok / elapsed
            else:
                rate, failed = run_processes(url, threads, args.seconds, processes)
            line = (
                f"{mode:10s} emulator, {threads:3d} httpx threads in {processes} "
                f"process(es): {rate:7.0f} PATCH/s ({failed} non-200)"
            )
            cpu_after = cpu_seconds(pid)
            if cpu_before is not None and cpu_after is not None and rate:
                per = (cpu_after - cpu_before) / (rate * args.seconds)
                line += f"; emulator CPU {per * 1e6:.0f} us/PATCH = {1 / per:.0f} PATCH/s per core"
            print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--mode", choices=["both", "in-process", "subprocess"], default="both")
    parser.add_argument("--processes", type=int, default=2, help="client processes (subprocess)")
    args = parser.parse_args()
    if args.mode in ("both", "in-process"):
        bench("in-process", in_process, args)
    if args.mode in ("both", "subprocess"):
        bench("subprocess", in_subprocess, args)


if __name__ == "__main__":
    main()
