"""``python -m docgen.screens``: the docs' terminal screenshots, taken from real runs.

It starts the local stack (OpenBao dev, Redis, the Composio emulator) and a real Celery worker,
seeds 60 auth configs (the emulator answers two of them with a 400, and every request after
0.1 s so the progress view has something to show), then runs the real commands in this process:
``rotator rotate --all --wait`` and, once a beat has swept, ``rotator status --watch`` (one
frame). Their output goes to a stand-in terminal; rich's own SVG export
(``Console(record=True).export_svg``) writes ``docs/images/*.svg``. Nothing is drawn by hand:
the progress frame is the real ``Progress`` rendered half-way through the run, the watch frame
the real ``Live`` view's last frame, the summary the real stdout (ANSI colours kept).
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rich.live
import rich.progress
from rich.console import Console, RenderableType
from rich.text import Text

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
COUNT, FAILING = 60, ("ac_shotBroken11", "ac_shotBroken42")
_frames: dict[str, RenderableType] = {}


class _Tty(io.StringIO):
    """A terminal stand-in: rich and rotator see a TTY and write colours."""

    def isatty(self) -> bool:
        return True


class _SnapProgress(rich.progress.Progress):
    """The real progress view; keeps the frame rendered once half the rotations are done."""

    def update(self, task_id: rich.progress.TaskID, **fields: Any) -> None:
        super().update(task_id, **fields)
        task = self._tasks[task_id]
        if "progress" not in _frames and task.total and task.completed >= task.total / 2:
            _frames["progress"] = self.get_renderable()


class _SnapLive(rich.live.Live):
    """The real live view; keeps the last frame it was given."""

    def update(self, renderable: RenderableType, *, refresh: bool = False) -> None:
        _frames["watch"] = renderable
        super().update(renderable, refresh=refresh)


def _svg(name: str, title: str, renderable: RenderableType, width: int) -> None:
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=True)
    console.print(renderable)
    IMAGES.mkdir(parents=True, exist_ok=True)
    (IMAGES / f"{name}.svg").write_text(console.export_svg(title=title), encoding="utf-8")
    print(f"wrote docs/images/{name}.svg")


def _run_cli(argv: list[str], columns: int) -> tuple[str, str]:
    """Run ``rotator ARGV`` in this process on stand-in terminals; return (stdout, stderr)."""
    from rotator.cli.commands import cli

    out, err = _Tty(), _Tty()
    old = sys.stdout, sys.stderr
    os.environ.update(COLUMNS=str(columns), LINES="30")
    sys.stdout, sys.stderr = out, err
    try:
        cli.main(argv, prog_name="rotator", standalone_mode=False)
    except SystemExit:
        pass  # rotate exits 1 when a rotation failed: that is part of the picture
    finally:
        sys.stdout, sys.stderr = old
    return out.getvalue(), err.getvalue()


def _poll(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("docgen.screens: the stack did not get there in time")
        time.sleep(0.2)


def _seed(stack: Any, rt: Any) -> None:
    from rotator.devkit.emulator.faults import Fault

    for n in range(COUNT):
        nanoid = FAILING[0] if n == 11 else FAILING[1] if n == 42 else f"ac_shot{n:02d}"
        stack.emulator.add_auth_config(nanoid)
        data = {"credentials": {"client_id": f"id-{n}", "client_secret": os.urandom(8).hex()}}
        rt.vault.write_secret("secret", f"composio/auth_configs/{nanoid}", data)
    bad = Fault(status=400, slug="AuthConfig_ValidationError", method="PATCH")
    for nanoid in FAILING:
        stack.emulator.inject(bad, nanoid=nanoid, times=None)
    stack.emulator.inject(Fault(delay=0.1), times=None)


def _shoot(stack: Any, logs: Path) -> None:
    from rotator.devkit.sandbox.groups import launch_rotator, stop_groups
    from rotator.runtime import build_runtime
    from rotator.settings.load import load_settings

    env = stack.env(ROTATOR_LOG_FORMAT="json", ROTATOR_LOG_LEVEL="WARNING")
    env.update(ROTATOR_SWEEP_INTERVAL="5", ROTATOR_RESYNC_INTERVAL="0")
    os.environ.update(env)
    rt = build_runtime(load_settings(env))
    procs = []
    try:
        _seed(stack, rt)
        full = {**os.environ, **env}
        procs.append(launch_rotator(["worker", "-c", "4"], env=full, log=logs / "worker.log"))
        out, err = _run_cli(["rotate", "--all", "--wait"], 100)
        queued = re.search(r"queued \d+ rotation\(s\)[^\n]*", err)
        head = f"$ rotator rotate --all --wait\n{queued.group(0) if queued else ''}\n"
        _svg("rotate-progress", "rotator rotate --all --wait", _frames["progress"], 100)
        _svg("rotate-summary", "rotator rotate --all --wait", Text.from_ansi(head + out), 100)
        procs.append(
            launch_rotator(["beat", "-s", str(logs / "beat.db")], env=full, log=logs / "beat.log")
        )
        _poll(lambda: bool(rt.state.last_sweep()), 60)
        _run_cli(["status", "--watch", "--iterations", "1"], 80)
        _svg("status-watch", "rotator status --watch", _frames["watch"], 80)
    finally:
        stop_groups(procs, grace=15)
        rt.close()


def main() -> int:
    rich.progress.Progress = _SnapProgress  # type: ignore[misc]
    rich.live.Live = _SnapLive  # type: ignore[misc]
    from rotator.devkit.sandbox.stack import LocalStack

    with LocalStack() as stack, tempfile.TemporaryDirectory(prefix="docgen-") as tmp:
        _shoot(stack, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
