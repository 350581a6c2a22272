"""The share of an announced limit rotator uses, and the 429s it draws (not a timed test).

    .venv/bin/python benchmarks/ratelimit_bench.py [--limit 2000] [--window 60] [--windows 3]
        [--share 0.5] [--cap 1500/min] [--processes 2] [--threads 8]

The emulator announces ``--limit`` requests per fixed ``--window`` seconds (Composio's Starter
plan by default: 2,000/min) and refuses the rest with 429. ``--processes`` worker processes of
``--threads`` threads each share one Redis-backed ``RateLimiter`` built as ``build_runtime``
builds it (``ROTATOR_RATE_LIMIT=auto``, share ``--share``, optional ``--cap``) and PATCH as fast
as it lets them for ``--windows`` windows. Printed: PATCH 200s per emulator window, the share
used (over all windows, and over the windows after the first, which pays for the conservative
start and cold connections), the 429s, and how often ``ratelimit.learned`` was logged.
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from structlog.testing import capture_logs

from rotator.composio.client import ComposioClient
from rotator.core.errors import ComposioUnavailable
from rotator.core.models import Payload, Secret
from rotator.core.retry import RetryBudget
from rotator.devkit.emulator import Emulator
from rotator.devkit.sandbox import RedisServer
from rotator.ratelimit.limiter import RateLimiter
from rotator.settings.load import load_settings

KEY = "ck_ratelimit_bench"


def worker(
    job: tuple[str, str, int], opts: dict[str, Any], go: Barrier, out: Queue[tuple[int, int]]
) -> None:
    """One worker process: one limiter and one client shared by its threads, like a worker.
    A thread told to come back later (ComposioUnavailable, as Celery would) asks again."""
    redis_url, url, first = job
    env = {"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "x", "COMPOSIO_API_KEY": KEY}
    env["ROTATOR_RATE_LIMIT"] = opts["cap"] or "auto"
    env["ROTATOR_RATE_LIMIT_SHARE"] = str(opts["share"])
    env["ROTATOR_REDIS_URL"] = redis_url
    limiter = RateLimiter.from_settings(load_settings(env))
    assert limiter is not None
    budget = RetryBudget(base_delay=0.01, in_call_max_wait=opts["window"])
    payload = Payload(type="custom", credentials={"client_secret": Secret("bench")})
    sent = [0] * opts["threads"]
    with (
        ComposioClient(
            base_url=url,
            key_provider=lambda refresh: Secret(KEY),
            key_refreshable=False,
            budget=budget,
            limiter=limiter,
        ) as client,
        capture_logs() as logs,
    ):
        go.wait()
        end = time.monotonic() + opts["windows"] * opts["window"] + 0.5

        def run(n: int) -> None:
            while time.monotonic() < end:
                try:
                    client.update_auth_config(f"ac_b{first + n}", payload)
                except ComposioUnavailable:
                    continue
                sent[n] += 1

        threads = [threading.Thread(target=run, args=(n,)) for n in range(opts["threads"])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    limiter.close()
    out.put((sum(sent), sum(1 for e in logs if e["event"] == "ratelimit.learned")))


def per_window(times: list[float], window: float, windows: int) -> list[int]:
    start = times[0]
    return [
        sum(1 for t in times if start + i * window <= t < start + (i + 1) * window)
        for i in range(windows)
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=2000)
    p.add_argument("--window", type=float, default=60.0)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--share", type=float, default=0.5)
    p.add_argument("--cap", default="", help="ROTATOR_RATE_LIMIT, e.g. 1500/min (default auto)")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    opts = vars(p.parse_args())
    n = opts["processes"] * opts["threads"]
    redis_server = RedisServer().start()
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Barrier(opts["processes"], timeout=120), ctx.Queue()
    with Emulator(api_keys=[KEY], rate_limit=opts["limit"], rate_window=opts["window"]) as emu:
        for i in range(n):
            emu.add_auth_config(f"ac_b{i}")
        procs = [
            ctx.Process(
                target=worker,
                args=((redis_server.url, emu.url, i * opts["threads"]), opts, go, out),
            )
            for i in range(opts["processes"])
        ]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=opts["windows"] * opts["window"] + 300) for _ in procs]
        for proc in procs:
            proc.join(60)
        journal = emu.journal
    redis_server.close()
    report(opts, journal, results)


def report(opts: dict[str, Any], journal: list[Any], results: list[tuple[int, int]]) -> None:
    windows, window = opts["windows"], opts["window"]
    ok = sorted(e.time for e in journal if e.status == 200)
    counts = per_window(ok, window, windows)
    share = opts["share"] * opts["limit"]
    print(
        f"announced {opts['limit']} per {window:g} s (fixed window); share {opts['share']:g} "
        f"= {share:g} per window; cap {opts['cap'] or 'none'}; "
        f"{opts['processes']} processes x {opts['threads']} threads"
    )
    print(f"PATCH 200s per window: {counts}")
    print(f"share used, all {windows} windows: {sum(counts) / (share * windows):.1%}")
    if windows > 1:
        steady = sum(counts[1:]) / (share * (windows - 1))
        print(f"share used, windows 2..{windows}: {steady:.1%}")
    print(f"of the announced limit: {sum(counts) / (opts['limit'] * windows):.1%}")
    print(f"429 answers: {sum(1 for e in journal if e.status == 429)}")
    print(f"ratelimit.learned logged: {sum(learned for _, learned in results)} time(s)")


if __name__ == "__main__":
    main()
