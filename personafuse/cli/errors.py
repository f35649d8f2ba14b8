"""The errors that are the user's to fix: every command prints them in one line, without a
traceback, and exits with status 1. A test walks the library's exception classes and checks
that each is here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import HydraException

from personafuse.checkpoints import CheckpointError
from personafuse.cli.arguments import ArgumentError
from personafuse.config import ConfigError
from personafuse.data.download import DownloadError
from personafuse.data.parlai import PersonaChatFormatError
from personafuse.data.persona import PersonaSelectionError
from personafuse.data.sources import DatasetNotFoundError
from personafuse.registry import PluginError
from personafuse.retrieval.index import PoolIndexError
from personafuse.retrieval.pool import PoolError
from personafuse.text.pretrained import PretrainedVectorsError

__all__ = ["USER_ERRORS", "MissingExtraError", "one_line", "one_line_errors"]


class MissingExtraError(ImportError):
    """An optional dependency a command needs is not installed; the message says which extra
    installs it."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    ArgumentError,
    CheckpointError,
    ConfigError,
    DatasetNotFoundError,
    DownloadError,
    MissingExtraError,
    PersonaChatFormatError,
    PersonaSelectionError,
    PluginError,
    PoolError,
    PoolIndexError,
    PretrainedVectorsError,
    HydraException,  # a malformed override (Hydra's own message is one line)
)


def one_line(error: BaseException) -> str:
    """The error's message on one line (its lines joined with ``; ``)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) or type(error).__name__


@contextmanager
def one_line_errors(status: int = 1) -> Iterator[None]:
    """Run a command's body: a user error ends the process with ``error: MESSAGE`` on standard
    error and exit status ``status``."""
    try:
        yield
    except USER_ERRORS as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        sys.exit(status)
