"""Everything about a run: checking its config, building its network, the run directory and
its files, restoring a run from a checkpoint (one route: :func:`restore_run`), what a run
records and what it shows on the console."""

from __future__ import annotations

from personafuse.runs.checks import bf16_supported, check_config
from personafuse.runs.directory import (
    output_directory,
    resume_checkpoint,
    run_directory,
    training_overrides,
    written_files,
)
from personafuse.runs.network import build_network, restore_network
from personafuse.runs.overrides import check_command_line, check_overrides
from personafuse.runs.restore import RestoredRun, restore_run

__all__ = [
    "RestoredRun",
    "bf16_supported",
    "build_network",
    "check_command_line",
    "check_config",
    "check_overrides",
    "output_directory",
    "restore_network",
    "restore_run",
    "resume_checkpoint",
    "run_directory",
    "training_overrides",
    "written_files",
]
