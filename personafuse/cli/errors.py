"""The errors that are the user's to fix: every command prints them in one line, without a
traceback, and exits with status 1. A test walks the library's exception classes and checks
that each is here."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.errors import HydraException

from personafuse.checkpoints import CheckpointError
from personafuse.cli.arguments import ArgumentError
from personafuse.config import ConfigError
from personafuse.data.download import DownloadError
from personafuse.data.parlai import PersonaChatFormatError
from personafuse.data.persona import PersonaSelectionError
from personafuse.data.sources import DatasetNotFoundError
from personafuse.registry import MissingExtraError, PluginError
from personafuse.retrieval.index import PoolIndexError
from personafuse.retrieval.pool import PoolError
from personafuse.runs.callbacks import NonFiniteLossError
from personafuse.text.pretrained import MissingAssetError, PretrainedVectorsError

__all__ = ["USER_ERRORS", "MissingExtraError", "isolated_job", "one_line", "one_line_errors"]

log = logging.getLogger(__name__)


USER_ERRORS: tuple[type[BaseException], ...] = (
    ArgumentError,
    CheckpointError,
    ConfigError,
    DatasetNotFoundError,
    DownloadError,
    MissingAssetError,
    MissingExtraError,
    NonFiniteLossError,
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


@contextmanager
def isolated_job(output_dir: Path) -> Iterator[None]:
    """Run one job of a sweep: an error ends the job, not the sweep. It is recorded in
    ``output_dir/failed.json`` with its one-line reason (a user error's message; for any
    other exception its type and first line, the traceback going to the job's log) and said
    on standard error; the sweep lists its failed jobs at the end."""
    from personafuse.runs.jobs import record_failure

    try:
        yield
    except Exception as err:
        reason = one_line(err)
        if not isinstance(err, USER_ERRORS):
            reason = f"{type(err).__name__}: {reason}"
            log.exception("job failed")  # the traceback, in the job's train.log
        record_failure(output_dir, err, reason)
        print(f"error: {output_dir.name}: {reason}", file=sys.stderr)
