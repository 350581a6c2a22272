"""Reading the bindings file (``ROTATOR_BINDINGS_FILE``), at start-up and whenever it changes.

At start-up a file that cannot be read, is not UTF-8, is not TOML, nests deeper than
``MAX_DEPTH`` or binds anything that is not a nanoid is a ``ConfigError``: the worker, beat and
every command exit 2 with one line. Later, a ``BindingsFile`` reads the file again when it
changes on disk (its size, times or inode: a Kubernetes ConfigMap swaps a symlink); a change
that breaks it keeps the last good bindings in force and says why at every look (``problem``),
until the file is fixed.

The nesting check runs before the TOML parser: tomllib recurses once per nested array or inline
table (a ``RecursionError`` 1,000 levels down) and spends quadratic time and memory on dotted
keys (``a.a.a...``: 10,000 levels take 400 MB), so anything deeper than a bindings file needs
is refused before it is parsed.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import tomllib
from pathlib import Path

from rotator.core.errors import ConfigError
from rotator.core.models import Binding
from rotator.rotation.bindings import parse_bindings

__all__ = ["MAX_BYTES", "MAX_DEPTH", "BindingsFile", "load_bindings_file", "nesting_problem"]

MAX_BYTES = 4 * 2**20  # 10,000 bindings take about 1 MB
MAX_DEPTH = 32  # brackets open at once, or dots on one line (a bindings file needs 3)
# A string or a comment, each matched whole in one pass. An unclosed one ends at its line's end
# (or, multi-line, at the end of the text): tomllib refuses it, and the scan stays linear.
_STRING_OR_COMMENT = re.compile(
    r'''"""(?:[^"\\]|\\[\s\S]|"(?!""))*(?:"""(?:"{0,2}))?'''
    r"""|'''(?:[^']|'(?!''))*(?:'''(?:'{0,2}))?"""
    r"""|"(?:[^"\\\n]|\\.)*"?"""
    r"""|'[^'\n]*'?"""
    r"|#[^\n]*"
)
_DOTS = re.compile(rf"^(?:[^.\n]*\.){{{MAX_DEPTH + 1}}}", re.MULTILINE)  # never backtracks
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _skeleton(text: str, *, lines: bool = False) -> str:
    """``text`` with each string made one ``s`` and each comment nothing; ``lines``: each
    keeps its newlines, so that line numbers stay right (slower: only to name a line)."""
    if not lines:
        return _STRING_OR_COMMENT.sub("s", text)
    return _STRING_OR_COMMENT.sub(lambda m: "s" + "\n" * m.group().count("\n"), text)


def _too_deep(bare: str) -> int | None:
    """Where ``bare`` (a skeleton) first nests deeper than ``MAX_DEPTH``, or None."""
    where = m.start() if (m := _DOTS.search(bare)) is not None else None
    steps = map(_STEP.__getitem__, _BRACKETS.findall(bare))
    if max(itertools.accumulate(steps, initial=0)) > MAX_DEPTH:
        depth = 0  # TOML has no stray closing bracket: tomllib stops at the first one
        for b in _BRACKETS.finditer(bare):
            depth += _STEP[b.group()]
            if depth > MAX_DEPTH:
                return b.start() if where is None else min(where, b.start())
    return where


def nesting_problem(text: str) -> str | None:
    """Where ``text`` opens more than ``MAX_DEPTH`` arrays or inline tables at once, or has a
    line with more than ``MAX_DEPTH`` dots outside strings and comments (dotted keys); None
    when it does neither. Linear in the length of ``text``, and mostly in C."""
    if _too_deep(_skeleton(text)) is None:
        return None
    bare = _skeleton(text, lines=True)
    line = bare.count("\n", 0, _too_deep(bare) or 0) + 1
    return f"nested deeper than {MAX_DEPTH} levels (line {line})"


def load_bindings_file(path: str, *, mount: str) -> list[Binding]:
    """Every binding in the file, or one ``ConfigError`` naming each problem."""
    where = f"ROTATOR_BINDINGS_FILE {path}"
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror})") from exc
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{where}: not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x})"
        ) from exc
    if (problem := nesting_problem(text)) is not None:
        raise ConfigError(f"{where}: {problem}")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from exc
    except RecursionError as exc:  # the nesting check should have caught it first
        raise ConfigError(f"{where}: nested too deeply to read") from exc
    return parse_bindings(doc, name=Path(path).name, mount=mount)


SHOWN_PROBLEMS = 3  # a broken file's problems named at each sweep; the rest are counted


def _summary(problems: list[str]) -> str:
    more = len(problems) - SHOWN_PROBLEMS
    shown = "; ".join(problems[:SHOWN_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
    return f"{shown} (the last good bindings file stays in force)"


Stamp = tuple[int, int, int, int] | None


def _stamp(path: str) -> Stamp:
    """What changes when the file does: inode, size and both times (None: cannot stat)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class BindingsFile:
    """The bindings file's last good contents, read again when the file changes.

    Built at start-up: a file that is bad then raises ``ConfigError``. Thread-safe."""

    def __init__(self, path: str, *, mount: str) -> None:
        self.path, self._mount = path, mount
        self._lock = threading.Lock()
        self._stamp = _stamp(path)
        self._bindings = load_bindings_file(path, mount=mount)
        self._problem: str | None = None

    def current(self) -> tuple[list[Binding], str | None]:
        """The bindings in force, and why the file on disk is not what is in force (None when
        it is): a change that broke it leaves the last good bindings in force."""
        stamp = _stamp(self.path)
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._bindings, self._problem = self._read(), None
                except ConfigError as exc:
                    self._problem = _summary(exc.problems)
            return list(self._bindings), self._problem

    def _read(self) -> list[Binding]:
        return load_bindings_file(self.path, mount=self._mount)
