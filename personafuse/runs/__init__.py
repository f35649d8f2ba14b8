"""Everything about a run: checking its config, building its network, the run directory and
its files, restoring a run from a checkpoint (one route: :func:`restore_run`), what a run
records and what it shows on the console."""

from __future__ import annotations

from personafuse.registry import lazy_exports

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

# Loaded on first use: a command checks its command line before importing the models.
__getattr__ = lazy_exports(
    __name__,
    {
        "RestoredRun": ".restore",
        "bf16_supported": ".checks",
        "build_network": ".network",
        "check_command_line": ".overrides",
        "check_config": ".checks",
        "check_overrides": ".overrides",
        "output_directory": ".directory",
        "restore_network": ".network",
        "restore_run": ".restore",
        "resume_checkpoint": ".directory",
        "run_directory": ".directory",
        "training_overrides": ".directory",
        "written_files": ".directory",
    },
)
