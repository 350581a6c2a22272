"""The ``rotator`` command, as a package: ``commands`` (rotate, plan, status, check, demo and the
group) and ``service`` (worker, beat, pause/resume, health, dlq) on top of ``shared`` (opening a
runtime, exit codes, the queued rotate path). Imports flow downwards only.
"""

from rotator.cli.commands import cli, main

__all__ = ["cli", "main"]
