"""The practical limit: the same Vault reads and PATCHes with no Celery and no Redis state.

``run_bare_rotation`` spreads the auth configs over as many processes as the workers have, each
with as many threads as a worker has, all started together once every process is ready (its
imports and clients done, as a worker's are before it takes a task). Each process runs
``python -m benchmarks.suite.bare``: the spec comes on stdin as JSON, ``ready`` goes out, ``go``
comes in, the result goes out as one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BareResult", "bare_push", "clients", "run_bare_rotation"]


@dataclass(frozen=True)
class BareResult:
    seconds: float
    ok: int
    failed: int
    cpu: float  # CPU seconds the bare processes used while pushing


def clients(env: dict[str, str]) -> tuple[Any, Any, str]:
    from rotator.composio.client import ComposioClient
    from rotator.settings.load import load_settings
    from rotator.vault.client import VaultClient

    settings = load_settings(env)
    key = settings.composio_api_key
    assert key is not None
    composio = ComposioClient.from_settings(settings, key_provider=lambda refresh: key)
    return VaultClient(settings), composio, settings.vault_mount


def bare_push(vault: Any, composio: Any, mount: str, nanoid: str, path: str) -> bool:
    """One KV v2 read, the payload, one PATCH: what a rotation must do at the very least."""
    from rotator.core.models import Binding
    from rotator.core.plan import extract_payload

    secret = vault.read_secret(mount, path)
    payload = extract_payload(Binding(auth_config_id=nanoid, mount=mount, path=path), secret)
    return bool(composio.update_auth_config(nanoid, payload).status == 200)


def _child() -> None:
    from rotator.observability.logs import configure_logging

    out, sys.stdout = sys.stdout, sys.stderr  # stdout carries the protocol, nothing else
    configure_logging("WARNING", "json", stream=sys.stderr)
    spec = json.loads(sys.stdin.readline())
    vault, composio, mount = clients(spec["env"])
    items: list[list[str]] = spec["items"]
    threads = int(spec["threads"])

    def one(item: list[str]) -> bool:
        try:
            return bare_push(vault, composio, mount, item[0], item[1])
        except Exception:
            return False

    with ThreadPoolExecutor(max_workers=threads) as pool:
        barrier = threading.Barrier(threads)  # every thread exists before the clock starts
        list(pool.map(lambda _: barrier.wait(), range(threads)))
        print("ready", file=out, flush=True)
        sys.stdin.readline()
        started, cpu = time.time(), time.process_time()
        results = list(pool.map(one, items))
        ended, cpu = time.time(), time.process_time() - cpu
    ok = sum(results)
    result = {"start": started, "end": ended, "ok": ok, "failed": len(results) - ok, "cpu": cpu}
    print(json.dumps(result), file=out, flush=True)


def run_bare_rotation(
    env: dict[str, str],
    items: list[tuple[str, str]],
    processes: int,
    threads: int,
    log: Path,
) -> BareResult:
    """Read and PATCH every (nanoid, path) with ``processes`` x ``threads``; wall time."""
    from benchmarks.suite.stack import clean_environ

    chunks = [items[i::processes] for i in range(processes)]
    with log.open("ab") as err:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.suite.bare"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=clean_environ(),
                text=True,
            )
            for _ in chunks
        ]
    try:
        for proc, chunk in zip(procs, chunks, strict=True):
            assert proc.stdin is not None and proc.stdout is not None
            spec = {"env": env, "items": chunk, "threads": threads}
            proc.stdin.write(json.dumps(spec) + "\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a bare-loop process failed to start; see {log}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            assert proc.stdout is not None
            results.append(json.loads(proc.stdout.readline()))
    finally:
        for proc in procs:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
            proc.wait(timeout=30)
    return BareResult(
        seconds=max(r["end"] for r in results) - min(r["start"] for r in results),
        ok=sum(r["ok"] for r in results),
        failed=sum(r["failed"] for r in results),
        cpu=sum(r["cpu"] for r in results),
    )


if __name__ == "__main__":
    _child()
