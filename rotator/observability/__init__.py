"""Logs: structlog's configuration, the log sinks, redaction of secret values and the bounds of a
line (bounds); and the Prometheus metrics fed by the log events (``metrics``, the only module
importing prometheus_client). May import: core.
"""
