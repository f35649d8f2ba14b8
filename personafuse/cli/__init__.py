"""What every command shares: one way to read ``key=value`` arguments and one list of the
errors that are the user's to fix, printed in one line without a traceback."""

from __future__ import annotations

from personafuse.cli.arguments import ArgumentError, parse_arguments, positive_int, wants_help
from personafuse.cli.errors import USER_ERRORS, MissingExtraError, isolated_job, one_line_errors

__all__ = [
    "USER_ERRORS",
    "ArgumentError",
    "MissingExtraError",
    "isolated_job",
    "one_line_errors",
    "parse_arguments",
    "positive_int",
    "wants_help",
]
