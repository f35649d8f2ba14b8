"""A rich console for tables that are read in pipes and log files as well as terminals."""

from __future__ import annotations

import sys

__all__ = ["table_console"]


def table_console(stream=None):
    """A console on ``stream`` (stdout): the terminal's width on a terminal; elsewhere (a pipe,
    a file, CI) wide enough that no table header is cut to ``dialo…`` — rich falls back to 80
    columns when it cannot ask a terminal."""
    from rich.console import Console

    stream = stream or sys.stdout
    is_terminal = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, width=None if is_terminal else 200)
