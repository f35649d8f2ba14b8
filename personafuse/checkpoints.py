"""Checkpoints that check themselves and survive a kill.

- A digest of the weights is stored at save time and verified at load time, so a corrupted,
  truncated, empty or foreign ``.ckpt`` gives one clear line naming the file instead of
  silently different metrics or a deep traceback.
- :class:`AtomicCheckpointIO` writes a checkpoint to a temporary file and renames it, so a
  kill during a save leaves the previous checkpoint whole.
- :class:`LastCheckpoint` keeps ``last.ckpt`` every N training steps and at every
  validation: what ``ckpt_path=last`` resumes from.
- :class:`ValidateAtEnd` validates at the step where ``max_steps`` stops a run, so a smoke run
  of a few steps also leaves ``best.ckpt`` and its validation scores.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Mapping
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, Checkpoint

__all__ = [
    "AtomicCheckpointIO",
    "CheckpointError",
    "LastCheckpoint",
    "ValidateAtEnd",
    "load_verified",
    "restore_rng",
    "rng_state",
    "stamp",
    "weights_digest",
]

KEY = "personafuse"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and says why."""


def weights_digest(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name]
        if not isinstance(tensor, torch.Tensor):
            continue
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def rng_state() -> dict:
    """This process's random number generators (the dropout masks of the next step)."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
    }


def stamp(checkpoint: dict, rng_states: list[dict]) -> None:
    """Record the digest of ``checkpoint["state_dict"]`` and every process's random number
    generators (one entry per rank), called by the LightningModule's ``on_save_checkpoint``."""
    from personafuse import __version__

    checkpoint[KEY] = {
        "version": __version__,
        "weights_sha256": weights_digest(checkpoint["state_dict"]),
        "rng": rng_states,
    }


def restore_rng(checkpoint: dict, rank: int = 0) -> None:
    """Put this process's random number generators back where :func:`stamp` found them."""
    saved = checkpoint.get(KEY, {}).get("rng")
    if not saved or rank >= len(saved):
        return
    states = saved[rank]
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made atomic: write ``PATH.tmp``, flush it to disk, then
    rename it over ``PATH``."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:  # the rename itself survives a power cut
            os.fsync(directory)
        finally:
            os.close(directory)


class LastCheckpoint(Checkpoint):
    """Writes ``DIRPATH/last.ckpt`` every ``every_n_train_steps`` optimiser steps, after every
    validation, at the end of every epoch and at the end of training, through the trainer (so
    every state is in it: weights, optimiser, LR schedule, loops, data position, callbacks,
    RNG).

    A ``Checkpoint`` subclass, so Lightning runs it after the other checkpoint callbacks: at an
    epoch's end it saves after ``best.ckpt`` has taken that epoch's validation into account
    (a checkpoint saved between the two would resume without it).

    Args:
        dirpath: The run's checkpoint directory.
        every_n_train_steps: Steps between saves; 0 saves only at validation and the end.
    """

    def __init__(self, dirpath: str | os.PathLike, every_n_train_steps: int = 50):
        self.path = Path(dirpath) / "last.ckpt"
        self.every_n_train_steps = every_n_train_steps
        self._saved_step = -1

    def _save(self, trainer) -> None:
        if not trainer.sanity_checking and not trainer.fast_dev_run:
            trainer.save_checkpoint(self.path)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        # Right after the optimiser step (global_step counts steps, not accumulated batches).
        every = self.every_n_train_steps
        if every and step and step % every == 0 and step != self._saved_step:
            self._saved_step = step
            self._save(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        # A validation at an epoch's last batch is saved with the epoch's end, below.
        epoch_end = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if trainer.state.fn == "fit" and not epoch_end:
            self._save(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._save(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self._save(trainer)


class ValidateAtEnd(Callback):
    """Validation at the optimiser step that reaches ``trainer.max_steps``.

    Lightning validates at an epoch's end or every ``val_check_interval`` batches; a run that
    ``max_steps`` stops in between ends without a validation, so ``ModelCheckpoint`` never
    writes ``best.ckpt``. Asking the trainer to stop at that step makes Lightning run the
    validation first (as it does for early stopping), and the checkpoints follow from it.
    """

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if 0 < trainer.max_steps <= trainer.global_step and trainer.enable_validation:
            trainer.should_stop = True


def load_verified(path: str | Path) -> dict:
    """Load a personafuse checkpoint on the CPU and check its weights against their digest.

    Raises:
        CheckpointError: The file is missing, empty, truncated, not a checkpoint, not written
            by personafuse, or its weights differ from those it was saved with.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the checkpoint file is empty")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, EOFError, KeyError, UnpicklingError…
        reason = str(err).split("\n")[0][:120] or type(err).__name__
        raise CheckpointError(
            f"{path}: not a readable checkpoint (truncated or corrupted? {reason})"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no state_dict)")
    record = checkpoint.get(KEY)
    if not isinstance(record, dict) or "weights_sha256" not in record:
        raise CheckpointError(
            f"{path}: not written by personafuse (no weights digest); train it with "
            "python -m personafuse.train"
        )
    if weights_digest(checkpoint["state_dict"]) != record["weights_sha256"]:
        raise CheckpointError(
            f"{path}: the weights differ from those saved (the file is corrupted); retrain or "
            "restore it from a copy"
        )
    return checkpoint
