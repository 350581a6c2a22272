"""The architecture picture (mermaid), drawn from the import-linter contracts in pyproject.toml.

The ``layers`` contract gives the floors, top to bottom (``a | b``: side by side, independent);
each ``door-*`` contract forbids a library everywhere but in the packages it leaves out, so those
packages are the library's doors; the table lists every contract by id, kind and name.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["contracts", "render_layers"]

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


def _owns(package: str) -> str:
    """The first paragraph of the package's (or module's) docstring, on one line."""
    base = ROOT / "rotator" / package
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "-"
    return " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|")


def contracts() -> list[dict[str, Any]]:
    """The ``[[tool.importlinter.contracts]]`` tables, in file order."""
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = data["tool"]["importlinter"]["contracts"]
    return found


def _floors(layers: dict[str, Any]) -> list[list[str]]:
    return [[p.strip() for p in floor.split("|")] for floor in layers["layers"]]


def _doors(every: list[str]) -> dict[str, list[str]]:
    """Library -> the packages allowed to import it (those the door contract leaves out)."""
    doors: dict[str, list[str]] = {}
    for c in contracts():
        if not c["id"].startswith("door-"):
            continue
        barred = {m.removeprefix("rotator.") for m in c["source_modules"]}
        allowed = [p for p in every if p not in barred and p != "__main__"]
        for lib in c["forbidden_modules"]:
            doors[lib] = allowed
    return doors


def _node(name: str) -> str:
    return name.strip("_").replace(".", "_") or name


def render_layers() -> str:
    """A mermaid flowchart of the floors and the doors, what each package owns, then the
    table of contracts."""
    layers = next(c for c in contracts() if c["type"] == "layers")
    floors = _floors(layers)
    every = [p for floor in floors for p in floor]
    lines = ["```mermaid", "flowchart TD"]
    for n, floor in enumerate(floors):
        lines.append(f'  subgraph F{n}["floor {n + 1}"]')
        lines += [f'    {_node(p)}["{p}"]' for p in floor]
        lines.append("  end")
    lines += [f"  F{n} --> F{n + 1}" for n in range(len(floors) - 1)]
    for lib, allowed in sorted(_doors(every).items()):
        lines.append(f"  lib_{lib}[({lib})]")
        lines += [f"  {_node(p)} -.-> lib_{lib}" for p in allowed]
    lines.append("```")
    lines += ["", "| package | what it owns (its docstring) |", "|---|---|"]
    lines += [f"| `rotator.{p}` | {_owns(p)} |" for p in every if p != "__main__"]
    lines += ["", "| contract | kind | what it holds |", "|---|---|---|"]
    lines += [f"| `{c['id']}` | {c['type']} | {c['name']} |" for c in contracts()]
    return "\n".join(lines)
