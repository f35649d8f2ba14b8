"""A killed run resumes to exactly the result of an uninterrupted one; the same seed gives the
same result; a directory holding a run is never silently restarted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from .conftest import TINY_TRAINING, run_train_cli

STEPS_PER_EPOCH = None  # filled by the baseline fixture
TRAINING = [
    *TINY_TRAINING,
    "trainer.max_epochs=2",
    "model.train_batch_size=4",
    "model.dropout=0.2",  # dropout masks must resume too
    "callbacks.last_checkpoint.every_n_train_steps=2",
]


def _args(root: Path, run: str, *extra: str) -> list[str]:
    return [*TRAINING, f"paths.cache_dir={root}/cache", f"hydra.run.dir={root}/{run}", *extra]


def _comparable(run_dir: Path) -> dict:
    """metrics.json without what may differ between two runs of the same computation: timings
    and the run's own path."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    varying = ("_per_s", "cpu_share", "checkpoint")
    return {key: value for key, value in metrics.items() if not key.endswith(varying)}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume")
    result = run_train_cli(_args(root, "baseline"), root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def _step_of(path: Path) -> int:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)["global_step"]
    except (FileNotFoundError, RuntimeError, EOFError, KeyError):
        return -1


def _kill_when(root: Path, run: str, min_step: int, *extra: str) -> int:
    """Start a training, SIGKILL it once last.ckpt holds a step >= ``min_step``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "personafuse.train", *_args(root, run, *extra)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = root / run / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    step = -1
    while time.monotonic() < deadline and process.poll() is None:
        step = _step_of(last)
        if step >= min_step:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run ended before it was killed"
    assert not (root / run / "metrics.json").exists()
    return step


def _steps_per_epoch(baseline: Path) -> int:
    metrics = json.loads((baseline / "baseline" / "metrics.json").read_text())
    return metrics["steps"] // 2


@pytest.mark.parametrize(
    "where",
    # mid-epoch in the default run; the other two kill points with the slow tests (time)
    ["mid-epoch", *(pytest.param(w, marks=pytest.mark.slow) for w in ("next-epoch", "epoch-end"))],
)
def test_a_killed_run_resumes_to_the_uninterrupted_result(baseline, where):
    """Killed after a save within epoch 0, within epoch 1, or right after the checkpoint of
    epoch 0's end (saving only at validations): the resumed run ends as the baseline."""
    per_epoch = _steps_per_epoch(baseline)
    target = {"mid-epoch": 5, "next-epoch": per_epoch + 5, "epoch-end": per_epoch}[where]
    extra = ["callbacks.last_checkpoint.every_n_train_steps=0"] if where == "epoch-end" else []
    run = f"killed-{where}"
    step = _kill_when(baseline, run, target, *extra)
    assert (step < per_epoch) == (where == "mid-epoch")
    if where == "epoch-end":
        assert step == per_epoch
    result = run_train_cli(_args(baseline, run, "ckpt_path=last", *extra), baseline)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _comparable(baseline / run) == _comparable(baseline / "baseline")
    for split in ("valid", "test"):
        name = f"predictions_{split}.tsv"
        assert (baseline / run / name).read_bytes() == (baseline / "baseline" / name).read_bytes()
    assert sorted(p.name for p in (baseline / run / "checkpoints").iterdir()) == [
        "best.ckpt",
        "last.ckpt",
    ]


def test_the_same_seed_gives_the_same_result(baseline):
    result = run_train_cli(_args(baseline, "again"), baseline)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _comparable(baseline / "again") == _comparable(baseline / "baseline")
    for name in ("predictions_valid.tsv", "predictions_test.tsv"):
        assert (baseline / "again" / name).read_bytes() == (
            baseline / "baseline" / name
        ).read_bytes()


def test_a_directory_holding_a_run_is_not_restarted_silently(baseline):
    result = run_train_cli(_args(baseline, "baseline"), baseline)
    assert result.returncode == 1
    assert "already holds a run" in result.stderr and "ckpt_path=last" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_train_cli(_args(baseline, "nothing-here", "ckpt_path=last"), baseline)
    assert missing.returncode == 1 and "nothing to resume" in missing.stderr


def test_an_interrupted_checkpoint_write_leaves_the_previous_file(tmp_path, monkeypatch):
    from personafuse.checkpoints import AtomicCheckpointIO

    path = tmp_path / "last.ckpt"
    writer = AtomicCheckpointIO()
    writer.save_checkpoint({"step": 1}, path)

    def killed_midway(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(torch, "save", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        writer.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
