"""What the log redaction costs per line with many secrets registered.

    .venv/bin/python benchmarks/redaction_bench.py [--secrets 30000] [--lines 20000]

Registers ``--secrets`` random 32-character values (as a worker that has read that many auth
configs would), then times ``SecretRegistry.scrub`` on a typical free-text error line without a
secret, and the whole ``redact`` processor on a canonical ``rotation.failed`` event dict, in
microseconds per call (best of five rounds). It also prints the index's size.
"""

from __future__ import annotations

import argparse
import secrets
import time
import tracemalloc
from collections.abc import Callable

from rotator.observability import logs

LINE = (
    "Composio answered 400 HTTP_BadRequest for ac_4f9Kq2LmZx01: Invalid client secret for "
    "auth config (request req_8d1f0a2b3c4d5e6f); retry in 30s after 3 attempt(s)"
)


def _event() -> dict[str, object]:
    return {
        "event": "rotation.failed",
        "level": "error",
        "logger": "rotator.rotation",
        "timestamp": "2026-12-01T10:00:00.000000Z",
        "auth_config_id": "ac_4f9Kq2LmZx01",
        "vault_path": "secret/composio/auth_configs/team-a/ac_4f9Kq2LmZx01",
        "outcome": "failed",
        "reason": "ComposioRejected",
        "http_status": 400,
        "error_slug": "HTTP_BadRequest",
        "request_id": "req_8d1f0a2b3c4d5e6f",
        "duration_ms": 12.5,
        "error": LINE,
    }


def _best(fn: Callable[[], object], lines: int) -> float:
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(lines):
            fn()
        rounds.append((time.perf_counter() - started) / lines * 1e6)
    return min(rounds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secrets", type=int, default=30_000)
    parser.add_argument("--lines", type=int, default=20_000)
    args = parser.parse_args()
    registry = logs.SecretRegistry()
    tracemalloc.start()
    started = time.perf_counter()
    for _ in range(args.secrets):
        registry.register(secrets.token_urlsafe(24))
    took = time.perf_counter() - started
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    logs.SECRETS = registry
    scrub_us = _best(lambda: registry.scrub(LINE), args.lines)
    redact_us = _best(lambda: logs.redact(None, "error", _event()), args.lines)
    print(f"secrets={args.secrets} register={took * 1e6 / args.secrets:.1f}us/value")
    print(f"index memory={size / 2**20:.1f} MiB")
    print(f"scrub(line of {len(LINE)} chars)={scrub_us:.1f}us  redact(event)={redact_us:.1f}us")


if __name__ == "__main__":
    main()
