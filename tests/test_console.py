"""What a first-time user sees: a short console with an estimate, and short runs that still
leave a checkpoint and predictions that ``evaluate`` uses."""

from __future__ import annotations

import json
import subprocess
import sys
from unittest.mock import MagicMock

import pytest
from lightning.pytorch.callbacks import RichProgressBar

from personafuse.runs.callbacks import ProgressBar
from personafuse.runs.console import format_duration

from .conftest import TINY_TRAINING, run_train_cli

QUIET = [o for o in TINY_TRAINING if not o.startswith("trainer.enable_progress_bar")]


def _before_progress_bar(output: str) -> list[str]:
    lines = output.replace("\r", "\n").splitlines()
    first_bar = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Epoch "))
    return [line for line in lines[:first_bar] if line.strip()]


def test_first_screen_is_short_and_says_how_long(tmp_path):
    result = run_train_cli(
        [
            *QUIET,
            f"hydra.run.dir={tmp_path}/run",
            f"paths.cache_dir={tmp_path}/cache",
            "trainer.max_steps=6",
            "callbacks.run_estimate.warmup_steps=1",
            "callbacks.run_estimate.timed_steps=2",
            "callbacks.run_estimate.warn_hours=0",  # every run is "long": the warning shows
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    first = _before_progress_bar(result.stdout)
    assert len(first) <= 20, first
    assert first[0].startswith("personafuse: hre-ra · persona=self · synthetic (original)")
    assert f"→ {tmp_path}/run" in first[0]
    for noise in ("Tip", "gensim", "KeyedVectors", "GPU available", "config:", "LeafSpec"):
        assert noise not in output, noise
    assert "estimate: training ≈" in output and "(6 steps ×" in output
    assert "warning:" in output and "experiment=demo" in output
    # what the console left out is in the run directory
    assert (tmp_path / "run" / ".hydra" / "config.yaml").is_file()
    assert "GloVe" in (tmp_path / "run" / "train.log").read_text()


def test_verbose_shows_the_config(tmp_path):
    result = run_train_cli(
        [
            *TINY_TRAINING,
            "verbose=true",
            "trainer.max_steps=1",
            f"hydra.run.dir={tmp_path}/run",
            f"paths.cache_dir={tmp_path}/cache",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "config:" in result.stdout + result.stderr


def test_max_steps_mid_epoch_leaves_a_best_checkpoint_that_evaluate_loads(tmp_path):
    run = tmp_path / "run"
    result = run_train_cli(
        [*TINY_TRAINING, "trainer.max_steps=3", f"hydra.run.dir={run}"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 3  # inside the first epoch: the tiny corpus has 19 batches
    assert metrics["best_checkpoint"] == str(run / "checkpoints" / "best.ckpt")
    assert metrics["checkpoint"] == metrics["best_checkpoint"]
    assert "ModelCheckpoint" not in result.stderr  # no "could not find the monitored key"
    for split in ("valid", "test"):
        lines = (run / f"predictions_{split}.tsv").read_text().splitlines()
        assert len(lines) == 20 * metrics[f"{'val' if split == 'valid' else 'test'}/contexts"]
    evaluated = subprocess.run(
        [sys.executable, "-m", "personafuse.evaluate", f"ckpt_path={run}/checkpoints/best.ckpt"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    again = json.loads((run / "evaluate" / "test" / "metrics.json").read_text())
    assert again["test/hits@1"] == pytest.approx(metrics["test/hits@1"])
    refused = subprocess.run(
        [sys.executable, "-m", "personafuse.generate", f"ckpt_path={run}/checkpoints/best.ckpt"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "a ranking checkpoint (model=hre); use python -m personafuse.evaluate" in refused.stderr


def test_limited_batches_leave_predictions_for_the_contexts_scored(tmp_path):
    run = tmp_path / "run"
    result = run_train_cli(
        [
            *TINY_TRAINING,
            "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=2",
            "trainer.limit_test_batches=1",
            f"hydra.run.dir={run}",
            f"paths.cache_dir={tmp_path}/cache",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val/contexts"] == 2 * 16 and metrics["test/contexts"] == 16
    assert len((run / "predictions_test.tsv").read_text().splitlines()) == 16 * 20
    assert (run / "checkpoints" / "best.ckpt").is_file()


@pytest.mark.parametrize(("bar", "has_eta"), [(RichProgressBar, False), (ProgressBar, True)])
def test_progress_bar_eta_with_minute_long_steps(bar, has_eta):
    progress_bar = bar()
    trainer = MagicMock(progress_bar_callback=progress_bar)
    progress_bar._init_progress(trainer)
    clock = [0.0]
    progress_bar.progress.get_time = lambda: clock[0]
    task = progress_bar.progress.add_task("epoch", total=10)
    for step in range(1, 4):
        clock[0] += 60.0
        progress_bar.progress.update(task, completed=step)
    progress_bar.progress.stop()
    remaining = progress_bar.progress.tasks[0].time_remaining
    assert (remaining == pytest.approx(7 * 60.0)) if has_eta else remaining is None


def test_format_duration():
    assert [format_duration(s) for s in (5, 600, 4 * 3600, 3 * 86400)] == [
        "5 s",
        "10 min",
        "4.0 h",
        "3.0 days",
    ]


def _fake_trainer(total_steps: float, batches: int = 100):
    said = []
    console = MagicMock()
    console.print.side_effect = lambda text, **_: said.append(text)
    trainer = MagicMock(
        is_global_zero=True,
        sanity_checking=False,
        estimated_stepping_batches=total_steps,
        enable_validation=True,
        num_training_batches=batches,
        accumulate_grad_batches=1,
        val_check_batch=batches,
        check_val_every_n_epoch=1,
        global_step=0,
    )
    trainer.progress_bar_callback._console = console
    return trainer, said


@pytest.mark.parametrize(
    ("total", "expected"), [(1000, "1000 steps × "), (float("inf"), "no step limit")]
)
def test_run_estimate_from_the_first_steps(total, expected, monkeypatch):
    from personafuse.runs.callbacks import RunEstimate

    clock = [0.0]
    monkeypatch.setattr("personafuse.runs.callbacks.time.perf_counter", lambda: clock[0])
    estimate = RunEstimate(warmup_steps=1, timed_steps=4, warn_hours=0.1)
    trainer, said = _fake_trainer(total)
    for step in range(1, 7):
        clock[0] += 2.0  # 2 s per step
        trainer.global_step = step
        estimate.on_train_batch_end(trainer, None, None, None, step - 1)
    assert estimate.seconds_per_step == pytest.approx(2.0)
    assert expected in said[0]
    if total != float("inf"):  # 995 steps left x 2 s = 33 min; warned past 6 min
        assert "≈ 33 min" in said[0] and "10 validation(s)" in said[0]
        assert "warning:" in said[1] and "experiment=demo" in said[1]
