"""What every command shares: one way to read ``key=value`` arguments and one list of the
errors that are the user's to fix, printed in one line without a traceback.

The names load on first use: a command's ``--help`` reads only :mod:`.arguments`;
:mod:`.errors` knows the user errors by name, so that a command can refuse bad arguments
before it imports torch.
"""

from __future__ import annotations

from personafuse.registry import lazy_exports

__all__ = [
    "USER_ERRORS",
    "ArgumentError",
    "MissingExtraError",
    "choice",
    "isolated_job",
    "one_line_errors",
    "parse_arguments",
    "positive_int",
    "wants_help",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "ArgumentError": ".arguments",
        "choice": ".arguments",
        "parse_arguments": ".arguments",
        "positive_int": ".arguments",
        "wants_help": ".arguments",
        "USER_ERRORS": ".errors",
        "MissingExtraError": ".errors",
        "isolated_job": ".errors",
        "one_line_errors": ".errors",
    },
)
