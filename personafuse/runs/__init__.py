"""Everything about a run: checking its config, building its network, the run directory and
its files, restoring a run from a checkpoint (one route: :func:`restore_run`), what a run
records and what it shows on the console."""

from __future__ import annotations

import importlib

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

_LAZY = {
    "RestoredRun": "restore",
    "bf16_supported": "checks",
    "build_network": "network",
    "check_command_line": "overrides",
    "check_config": "checks",
    "check_overrides": "overrides",
    "output_directory": "directory",
    "restore_network": "network",
    "restore_run": "restore",
    "resume_checkpoint": "directory",
    "run_directory": "directory",
    "training_overrides": "directory",
    "written_files": "directory",
}


def __getattr__(name: str):
    # Loaded on first use: a command checks its command line before importing the models.
    if name in _LAZY:
        return getattr(importlib.import_module(f"personafuse.runs.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'personafuse.runs' has no attribute {name!r}")
