"""Read models (pure): status rows, history entries, the inventory comparison and the checklist.
May import: core, settings, observability.
"""
