"""Checkpoints that check themselves: a digest of the weights is stored at save time and
verified at load time, so a corrupted, truncated, empty or foreign ``.ckpt`` gives one clear
line naming the file instead of silently different metrics or a deep traceback."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import torch

__all__ = ["CheckpointError", "load_verified", "stamp", "weights_digest"]

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


def stamp(checkpoint: dict) -> None:
    """Record the digest of ``checkpoint["state_dict"]`` (called by the LightningModule's
    ``on_save_checkpoint``)."""
    from personafuse import __version__

    checkpoint[KEY] = {
        "version": __version__,
        "weights_sha256": weights_digest(checkpoint["state_dict"]),
    }


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
