"""Logs: structlog's configuration, the log sinks, and redaction of secret values. May import:
core.
"""
