"""Logs: structlog's configuration, the log sinks, redaction of secret values, and the bounds
of a line (bounds). May import: core.
"""
