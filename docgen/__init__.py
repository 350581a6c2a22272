"""The documentation's generated parts, from the code that declares them (not part of the wheel).

``python -m docgen`` rewrites every generated region of ``docs/`` (a region sits between
``<!-- BEGIN generated:NAME -->`` and ``<!-- END generated:NAME -->``); ``python -m docgen
--check`` exits 1 naming each stale one (``tests/test_docs_generated.py`` runs the same check).
``python -m docgen.screens`` re-takes the terminal screenshots from real runs.
"""
