"""The Lightning Trainer of a run, built from the ``trainer`` config group: ``train`` and
``evaluate`` build theirs here, so both take the same devices, precision, limits, plugins and
determinism from the same keys."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["build_trainer"]


def build_trainer(cfg, root: str | Path, callbacks: Sequence = (), loggers: Sequence = (), **extra):
    """``instantiate(cfg.trainer)`` writing under ``root``, with ``callbacks`` (and the
    progress bar when ``trainer.enable_progress_bar``), ``loggers`` (none: no logger) and
    ``extra`` Trainer arguments."""
    from hydra.utils import instantiate

    from personafuse.runs.callbacks import ProgressBar

    callbacks = list(callbacks)
    if cfg.trainer.get("enable_progress_bar", True):
        callbacks.append(ProgressBar())
    return instantiate(cfg.trainer, default_root_dir=str(root), callbacks=callbacks,
                       logger=list(loggers) or False, **extra)  # fmt: skip
