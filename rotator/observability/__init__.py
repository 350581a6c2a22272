"""Logs: structlog's configuration, the log sinks, and redaction of secret values; and the
Prometheus metrics fed by the log events (``metrics``, the only module importing
prometheus_client). May import: core.
"""
