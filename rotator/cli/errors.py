"""The one place a command's failure becomes one line on stderr and an exit code.

Every command runs inside ``OneLineGroup.invoke``: a ``RotatorError`` that escapes it (a Vault
whose certificate is not trusted, a token Vault refuses, an unreachable Redis) is printed as
``rotator: <problem>: <fix>`` and exits with the documented code; never a traceback. Exit 2 for
what a setting must fix (``ConfigError``, ``PermanentError``), 1 for what may pass by itself
(``TransientError``: a server down or sealed). Anything else that escapes (a bug) is still one
line, naming its type, with exit 1.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from rotator.core.errors import ConfigError, PermanentError, RotatorError
from rotator.observability.logs import scrub

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "BadInput",
    "OneLineGroup",
    "clip",
    "describe",
    "exit_code",
    "fail",
]

EXIT_FAILED, EXIT_USAGE = 1, 2
_LIMIT = 600


def clip(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters (an untrusted id or value is never echoed whole)."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…({len(text)} chars)"


def describe(exc: BaseException) -> str:
    """One scrubbed line: the problem, then the fix when the error carries one."""
    bug = not isinstance(exc, RotatorError)
    text = f"unexpected {type(exc).__name__}: {exc}" if bug else str(exc)
    fix = exc.suggested_fix if isinstance(exc, PermanentError) else None
    if fix and fix not in text:
        text = f"{text}: {fix}"
    if isinstance(exc, ConfigError) and len(exc.problems) > 1:
        return scrub(text)  # one problem a line, already indented under one heading
    return clip(" ".join(scrub(text).split()), _LIMIT)


def exit_code(exc: BaseException) -> int:
    """2: a setting must change (config, permanent); 1: a transient outage or a bug."""
    return EXIT_USAGE if isinstance(exc, ConfigError | PermanentError) else EXIT_FAILED


def fail(exc: BaseException) -> None:
    """Print ``exc`` as one line on stderr and exit with its code."""
    click.echo(f"rotator: {describe(exc)}", err=True)
    sys.exit(exit_code(exc))


class BadInput(click.ClickException):
    """A bad argument: one ``Error: ...`` line (no usage block) and exit 2."""

    exit_code = EXIT_USAGE


class OneLineGroup(click.Group):
    """A click group whose commands end in one line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("rotator: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # the last stop before a traceback
            fail(exc)
