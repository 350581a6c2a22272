"""Settings: their declarations (spec, kinds, formats: pure) and their loading from the
environment and files (load). May import: core, observability.
"""
