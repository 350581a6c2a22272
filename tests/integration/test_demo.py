"""The README's first quick-start command keeps working: `rotator demo` exits 0."""

from __future__ import annotations

from tests.procs import run_cli


def test_live_demo_converges_and_exits_0() -> None:
    """The live demo (worker + beat subprocesses) brings all four auth configs in step."""
    res = run_cli({}, "demo", timeout=180)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Composio holds exactly Vault's values for 4/4 auth configs." in res.stdout
    assert "credentials must be an object, got str" in res.stdout  # the broken one, shown
    assert "Stopped everything the demo started." in res.stdout


def test_inline_demo_exits_0() -> None:
    """The in-process demo: first sync, a no-op round with zero PATCHes, then new versions."""
    res = run_cli({}, "demo", "--inline", timeout=120)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "PATCHes sent in round 2: 0" in res.stdout
    assert "4/4 auth configs" in res.stdout
