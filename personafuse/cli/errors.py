"""The errors that are the user's to fix: every command prints them in one line, without a
traceback, and exits with status 1. A test walks the library's exception classes and checks
that each is here, and that each name here is a class."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from personafuse.registry import MissingExtraError

# ``USER_ERRORS`` (the classes) is read through the module's __getattr__, imported on use.
__all__ = [
    "USER_ERROR_NAMES",
    "MissingExtraError",
    "is_user_error",
    "isolated_job",
    "one_line",
    "one_line_errors",
]

log = logging.getLogger(__name__)


# Each user error by where it is defined. The classes are not imported here: that would load
# torch and Lightning before a command could say that its arguments are wrong (6.9 s for
# ``evaluate`` without arguments, against 0.08 s). An exception of a class can only exist once its
# module is imported, so matching by name needs no import.
USER_ERROR_NAMES: tuple[str, ...] = (
    "personafuse.cli.arguments.ArgumentError",
    "personafuse.checkpoints.CheckpointError",
    "personafuse.config.ConfigError",
    "personafuse.data.sources.DatasetNotFoundError",
    "personafuse.data.download.DownloadError",
    "personafuse.text.pretrained.MissingAssetError",
    "personafuse.registry.MissingExtraError",
    "personafuse.runs.callbacks.NonFiniteLossError",
    "personafuse.data.parlai.PersonaChatFormatError",
    "personafuse.data.persona.PersonaSelectionError",
    "personafuse.registry.PluginError",
    "personafuse.retrieval.pool.PoolError",
    "personafuse.retrieval.index.PoolIndexError",
    "personafuse.text.pretrained.PretrainedVectorsError",
    "hydra.errors.HydraException",  # a malformed override (Hydra's own message is one line)
)


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is (a subclass of) one of :data:`USER_ERROR_NAMES`."""
    return any(f"{c.__module__}.{c.__qualname__}" in USER_ERROR_NAMES for c in type(error).__mro__)


def __getattr__(name: str):
    """``USER_ERRORS``: the classes of :data:`USER_ERROR_NAMES`, imported on first use."""
    if name != "USER_ERRORS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return tuple(
        getattr(importlib.import_module(module), qualname)
        for module, _, qualname in (n.rpartition(".") for n in USER_ERROR_NAMES)
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
    except Exception as err:
        if not is_user_error(err):
            raise
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
        if not is_user_error(err):
            reason = f"{type(err).__name__}: {reason}"
            log.exception("job failed")  # the traceback, in the job's train.log
        record_failure(output_dir, err, reason)
        print(f"error: {output_dir.name}: {reason}", file=sys.stderr)
