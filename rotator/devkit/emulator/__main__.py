"""``python -m rotator.devkit.emulator``: run the Composio emulator in the foreground.

Prints ``emulator listening on http://HOST:PORT`` (flushed) once it accepts connections, so a
parent process can read the port when ``--port 0`` is given, and stops cleanly on SIGINT or
SIGTERM. It listens on loopback only: any other ``--host`` exits 2 with one line, unless both
``--allow-remote`` and ``--admin-token`` are given (then every admin endpoint under
``/_emulator/`` but ``health`` requires that token, see ``emulator.bind``). The token can
also come from the environment variable ``EMULATOR_ADMIN_TOKEN``, which keeps it out of ``ps``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from rotator.devkit.emulator.app import Emulator
from rotator.devkit.emulator.bind import bind_problem

PROG = "python -m rotator.devkit.emulator"

SEED_CREDENTIALS: dict[str, object] = {
    "client_id": "seed-client-id",
    "client_secret": "seed-secret",
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not loopback (needs --admin-token)",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("EMULATOR_ADMIN_TOKEN") or None,
        help="token the /_emulator/ admin endpoints require (default: $EMULATOR_ADMIN_TOKEN)",
    )
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument(
        "--api-key", action="append", dest="api_keys", help="accepted API key (repeatable)"
    )
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per window")
    parser.add_argument("--rate-window", type=float, default=60.0, help="window in seconds")
    parser.add_argument(
        "--seed-config",
        nargs="*",
        default=[],
        metavar="NANOID",
        help="create these custom github auth configs at start",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    problem = bind_problem(args.host, allow_remote=args.allow_remote, admin_token=args.admin_token)
    if problem is not None:
        print(f"{PROG}: {problem}", file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    emulator = Emulator(
        api_keys=args.api_keys or ["test-key"],
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        admin_token=args.admin_token,
        allow_remote=args.allow_remote,
    )
    for nanoid in args.seed_config:
        emulator.add_auth_config(nanoid, credentials=dict(SEED_CREDENTIALS))
    try:
        emulator.start(args.host, args.port)
    except OSError as exc:
        print(f"{PROG}: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        print(f"emulator listening on {emulator.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
