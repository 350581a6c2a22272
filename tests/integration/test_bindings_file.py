"""The bindings file: refused at start-up when bad (tests/test_app_config.py starts the processes),
read again when it changes, and a change that breaks it keeps the last good bindings in force
with one clear error at every sweep, against a real worker, beat, Redis, OpenBao and emulator."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import pytest

from rotator.core.errors import ConfigError
from rotator.rotation.bindings_file import MAX_BYTES, BindingsFile, nesting_problem
from tests.faults_support import events
from tests.helpers import Stack
from tests.procs import Procs, send_rotate, wait_until

INVALID_LINE = r'"event": "sweep\.bindings_invalid"'
FAILED_LINE = r'"event": "rotation\.failed"'


def _binding(nanoid: str, path: str) -> str:
    return (
        f'[[binding]]\nauth_config = "{nanoid}"\npath = "{path}"\n'
        '[binding.credentials]\nclient_secret = "key"\n'
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a = " + "[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels (line 1)"),
        ("a = " + "{b = " * 5_000 + "1" + "}" * 5_000, "nested deeper than 32 levels (line 1)"),
        ("a" + ".a" * 100_000 + " = 1", "nested deeper than 32 levels (line 1)"),
        ("[" + "a." * 40 + "a]\n", "nested deeper than 32 levels (line 1)"),
        ("x = 1\n\na = [\n" + "[\n" * 40, "nested deeper than 32 levels (line 35)"),
        ('x = """\n\n"""\n' + "a" + '."q"' * 40 + " = 1", "nested deeper than 32 levels (line 4)"),
        ('x = """a""""\n' + "a" + ".a" * 40 + " = 1", "nested deeper than 32 levels (line 2)"),
        ('a = "' + "." * 100 + '"\n# ' + "[" * 100 + "\n", None),
        ("a = '" + "[" * 100 + "'\nb = '''\n" + "{" * 100 + "'''\n", None),
        ('a = "\\"' + "[" * 100 + '\\""\n', None),
        ("[a.b.c]\nd.e.f = [[1, 2], [3]]\n", None),
    ],
)
def test_nesting_is_measured_outside_strings_and_comments(text: str, problem: str | None) -> None:
    """Arrays, inline tables, dotted keys and table headers deeper than 32 are named with their
    line; brackets and dots inside strings (escaped quotes, multi-line strings ending in extra
    quotes) and comments do not count; what passes, tomllib reads."""
    assert nesting_problem(text) == problem
    if problem is None:
        tomllib.loads(text)


def test_the_nesting_check_is_linear_on_the_largest_file() -> None:
    """The worst inputs of the largest file accepted take about a second, not the minutes (and
    GBs) tomllib would spend: brackets, dots, quotes and escaped quotes, 4 MiB each."""
    for text in ("[]" * (MAX_BYTES // 2), ".\n" * (MAX_BYTES // 2), '""\n' * (MAX_BYTES // 3)):
        started = time.perf_counter()
        assert nesting_problem(text) is None
        assert time.perf_counter() - started < 5
    started = time.perf_counter()
    assert nesting_problem('a = "' + '\\"' * (MAX_BYTES // 2)) is None
    assert time.perf_counter() - started < 5


def test_a_file_larger_than_the_cap_is_refused(tmp_path: Path) -> None:
    """A file over 4 MiB is one problem naming the cap, read no further."""
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(ConfigError, match=f"larger than {MAX_BYTES} bytes"):
        BindingsFile(str(path), mount="secret")


def test_a_change_that_breaks_the_file_keeps_the_last_good_bindings(tmp_path: Path) -> None:
    """Read again when it changes: a broken change names its problem and keeps the last good
    bindings; a good change replaces them and clears the problem; a file that vanished too."""
    path = tmp_path / "bindings.toml"
    path.write_text(_binding("ac_one", "a/one"))
    bf = BindingsFile(str(path), mount="secret")
    assert [b.auth_config_id for b in bf.current()[0]] == ["ac_one"]
    path.write_bytes(b"[[binding]\n")
    bindings, problem = bf.current()
    assert [b.auth_config_id for b in bindings] == ["ac_one"]
    assert problem is not None and "not valid TOML" in problem
    assert problem.endswith("(the last good bindings file stays in force)")
    path.write_text(_binding("ac_one", "a/one") + _binding("ac_two", "a/two"))
    assert [b.auth_config_id for b in bf.current()[0]] == ["ac_one", "ac_two"]
    assert bf.current()[1] is None
    path.unlink()
    bindings, problem = bf.current()
    assert len(bindings) == 2 and problem is not None and "cannot read" in problem


def test_a_bindings_file_that_breaks_while_running_keeps_the_last_good_in_force(
    stack: Stack, procs: Procs, celery_env: dict[str, str], tmp_path: Path
) -> None:
    """A real worker and beat started on a good file. The file breaks: every sweep logs one
    sweep.bindings_invalid naming the problem, a new Vault version of a config bound by the
    last good file is still pushed, and a queued rotation of a config no file binds fails
    with the reason (no "task ended in state FAILURE"). Fixed: the new binding is pushed and
    the error lines stop."""
    bound = {n: f"{stack.prefix}-bound/{n}" for n in ("ac_bf1", "ac_bf2")}
    for nanoid, vault_path in bound.items():
        stack.emu.add_auth_config(nanoid, type="custom")
        stack.rt.vault.write_secret("secret", vault_path, {"key": f"{nanoid}-v1"})
    path = tmp_path / "bindings.toml"
    path.write_text(_binding("ac_bf1", bound["ac_bf1"]))
    procs.env = {**procs.env, "ROTATOR_BINDINGS_FILE": str(path)}
    procs.worker("w1")
    procs.beat("b1")

    def pushed(nanoid: str, value: str) -> bool:
        return stack.emu.credentials(nanoid) == {"client_secret": value}

    wait_until("ac_bf1 v1 pushed", lambda: pushed("ac_bf1", "ac_bf1-v1"))
    path.write_bytes(b"[[binding]\n")
    stack.rt.vault.write_secret("secret", bound["ac_bf1"], {"key": "ac_bf1-v2"})
    wait_until("ac_bf1 v2 pushed by the last good file", lambda: pushed("ac_bf1", "ac_bf1-v2"))
    wait_until(
        "three sweeps name the broken file",
        lambda: len(events(procs.output(), "sweep.bindings_invalid")) >= 3,
    )
    for line in events(procs.output(), "sweep.bindings_invalid"):
        assert "not valid TOML" in line["error"] and "stays in force" in line["error"], line
    result = send_rotate(celery_env, "ac_bf9")  # another service: no bindings file of its own
    assert result["result"] == "failed", result
    assert "no binding for it in force" in str(result["error"]) and "not valid TOML" in str(
        result["error"]
    )
    path.write_text(_binding("ac_bf1", bound["ac_bf1"]) + _binding("ac_bf2", bound["ac_bf2"]))
    wait_until("ac_bf2 pushed once the file is fixed", lambda: pushed("ac_bf2", "ac_bf2-v1"))
    said = len(events(procs.output(), "sweep.bindings_invalid"))
    sweeps = len(events(procs.output(), "sweep.completed"))
    wait_until(
        "two more sweeps", lambda: len(events(procs.output(), "sweep.completed")) >= sweeps + 2
    )
    assert len(events(procs.output(), "sweep.bindings_invalid")) == said
    assert not stack.emu.patches("ac_bf9")
    procs.assert_clean(allowed=[INVALID_LINE, FAILED_LINE])
