"""Checkpoints check themselves: corrupted, truncated, empty, foreign or garbage files give one
clear line naming the file, in evaluate and wherever a checkpoint is loaded."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from personafuse.checkpoints import CheckpointError, load_verified, weights_digest

from .conftest import TINY_TRAINING, run_train_cli


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("checkpoints")
    args = [
        *TINY_TRAINING,
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        f"paths.cache_dir={root}/cache",
        f"hydra.run.dir={root}/run",
    ]
    result = run_train_cli(args, root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run"


def _flip_a_weight_byte(path: Path) -> None:
    """Change one byte inside the largest tensor's stored data, leaving the zip intact."""
    with zipfile.ZipFile(path) as archive:
        record = max(archive.infolist(), key=lambda info: info.file_size)
    data = bytearray(path.read_bytes())
    header = record.header_offset
    name_length = int.from_bytes(data[header + 26 : header + 28], "little")
    extra_length = int.from_bytes(data[header + 28 : header + 30], "little")
    start = header + 30 + name_length + extra_length
    data[start + record.file_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupt(kind: str, good: Path, bad: Path) -> None:
    shutil.copy(good, bad)
    if kind == "flipped":
        _flip_a_weight_byte(bad)
    elif kind == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "garbage":
        bad.write_bytes(b"not a checkpoint at all\n" * 50)
    else:  # foreign: a valid torch file with a state_dict, not written by personafuse
        state = torch.load(good, map_location="cpu", weights_only=True)["state_dict"]
        torch.save({"state_dict": state}, bad)


MESSAGES = {
    "flipped": "the weights differ from those saved",
    "truncated": "not a readable checkpoint",
    "empty": "the checkpoint file is empty",
    "garbage": "not a readable checkpoint",
    "foreign": "not written by personafuse",
}


def test_a_saved_checkpoint_carries_the_digest_of_its_weights(trained_run):
    checkpoint = load_verified(trained_run / "checkpoints" / "best.ckpt")
    assert checkpoint["personafuse"]["weights_sha256"] == weights_digest(checkpoint["state_dict"])


@pytest.mark.parametrize("kind", MESSAGES)
def test_bad_checkpoints_fail_with_one_line_naming_the_file(trained_run, tmp_path, kind):
    bad = trained_run / "checkpoints" / f"{kind}.ckpt"
    _corrupt(kind, trained_run / "checkpoints" / "best.ckpt", bad)
    with pytest.raises(CheckpointError, match=MESSAGES[kind]) as caught:
        load_verified(bad)
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)

    from personafuse.evaluate import evaluate

    with pytest.raises(CheckpointError, match=MESSAGES[kind]):
        evaluate(bad, [], split="valid", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_evaluate_cli_refuses_a_corrupted_checkpoint_in_one_line(trained_run):
    bad = trained_run / "checkpoints" / "cli-flipped.ckpt"
    _corrupt("flipped", trained_run / "checkpoints" / "best.ckpt", bad)
    result = subprocess.run(
        [sys.executable, "-m", "personafuse.evaluate", f"ckpt_path={bad}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {bad}: the weights differ from those saved (the file is corrupted); retrain or "
        "restore it from a copy"
    ]
