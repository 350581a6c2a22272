"""``python -m docgen`` rewrites the generated regions of the docs; ``--check`` only reports."""

from __future__ import annotations

import sys

from docgen.regions import REGIONS, rewrite, stale


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        old = [f"{r.page} ({r.name})" for r in REGIONS if stale(r)]
        for name in old:
            print(f"stale: {name}: run python -m docgen")
        return 1 if old else 0
    if argv:
        print("usage: python -m docgen [--check]", file=sys.stderr)
        return 2
    for region in REGIONS:
        print(f"{'rewrote' if rewrite(region) else 'current'}: {region.page} ({region.name})")
    return 0


sys.exit(main(sys.argv[1:]))
