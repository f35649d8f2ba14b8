"""Sweeps that survive: a failing job is recorded and the others run; re-running the same
command skips finished jobs and resumes killed ones to the uninterrupted result; the submitit
launcher gives the basic launcher's metrics; a killed Optuna search continues to n_trials."""

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

SMALL = [
    *TINY_TRAINING,
    "dataset.dialogues.train=12",
    "dataset.dialogues.valid=10",
    "dataset.dialogues.test=10",
    "model.train_batch_size=4",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
]


def _sweep(root: Path, name: str, *extra: str) -> list[str]:
    return ["--multirun", *SMALL, f"hydra.sweep.dir={root / name}",
            f"paths.cache_dir={root / 'cache'}", *extra]  # fmt: skip


def _jobs(sweep: Path) -> list[Path]:
    """The job directories of a sweep, in job order (``N_model-fusion-persona-seedS``)."""
    jobs = [p for p in sweep.iterdir() if p.is_dir() and p.name.split("_")[0].isdecimal()]
    return sorted(jobs, key=lambda p: int(p.name.split("_")[0]))


def _comparable(job: Path) -> dict:
    """metrics.json without what differs between two runs of one computation: timings, paths."""
    metrics = json.loads((job / "metrics.json").read_text())
    return {
        k: v for k, v in metrics.items() if not k.endswith(("_per_s", "cpu_share", "checkpoint"))
    }


def test_a_failing_job_is_recorded_the_others_run_and_a_rerun_skips_the_finished(tmp_path):
    args = _sweep(tmp_path, "sweep", "trainer.max_steps=2", "model.optimizer.lr=0.001,-1")
    first = run_train_cli(args, tmp_path)
    assert first.returncode == 1, first.stderr[-3000:]
    good, bad = _jobs(tmp_path / "sweep")
    assert (good / "metrics.json").is_file() and not (good / "failed.json").exists()
    record = json.loads((bad / "failed.json").read_text())
    assert record["reason"] == "model.optimizer.lr=-1: must be a number > 0"
    assert "model.optimizer.lr=-1" in record["overrides"]
    assert "1 job(s) of the sweep failed" in first.stderr
    assert f"  {bad.name}: model.optimizer.lr=-1: must be a number > 0" in first.stderr
    assert "Traceback" not in first.stderr

    finished = (good / "metrics.json").stat().st_mtime_ns
    second = run_train_cli(args, tmp_path)
    assert second.returncode == 1  # the bad job fails again; the good one is not retrained
    assert f"complete already: {good}" in second.stdout
    assert (good / "metrics.json").stat().st_mtime_ns == finished

    from personafuse.report import build_report

    written = build_report([tmp_path / "sweep"], tmp_path / "report")
    assert written["failed"] == [str(bad)]
    tables = (tmp_path / "report" / "tables.md").read_text()
    assert f"`{bad.name}`" in tables and "must be a number > 0" in tables
    assert "Missing (" in tables  # the partial sweep's empty cells are named


def _step(path: Path) -> int:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)["global_step"]
    except (FileNotFoundError, RuntimeError, EOFError, KeyError):
        return -1


@pytest.mark.slow  # about 100 s: three trainings twice, two of them in pieces
def test_a_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    extra = ("trainer.max_epochs=1", "callbacks.last_checkpoint.every_n_train_steps=2",
             "model.dropout=0.2", "seed=0,1,2")  # fmt: skip
    whole = run_train_cli(_sweep(tmp_path, "whole", *extra), tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]

    process = subprocess.Popen([sys.executable, "-m", "personafuse.train",
                                *_sweep(tmp_path, "killed", *extra)], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        second = list((tmp_path / "killed").glob("1_*/checkpoints/last.ckpt"))
        if second and _step(second[0]) >= 2:  # the second job is under way
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the sweep ended before it was killed"
    first, second = _jobs(tmp_path / "killed")
    assert (first / "metrics.json").is_file() and not (second / "metrics.json").exists()
    finished = (first / "metrics.json").stat().st_mtime_ns

    again = run_train_cli(_sweep(tmp_path, "killed", *extra), tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"complete already: {first}" in again.stdout
    assert (first / "metrics.json").stat().st_mtime_ns == finished  # not trained again
    resumed, uninterrupted = _jobs(tmp_path / "killed"), _jobs(tmp_path / "whole")
    assert len(resumed) == len(uninterrupted) == 3
    for job, reference in zip(resumed, uninterrupted, strict=True):
        assert _comparable(job) == _comparable(reference), job.name


@pytest.mark.slow  # about 35 s: four trainings, each in its own process
def test_the_submitit_local_launcher_gives_the_basic_launchers_metrics(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    extra = ("trainer.max_steps=3", "seed=0,1", "persona=self,partner")
    basic = run_train_cli(_sweep(tmp_path, "basic", *extra), tmp_path)
    assert basic.returncode == 0, basic.stderr[-3000:]
    local = run_train_cli(
        _sweep(tmp_path, "local", *extra, "hydra/launcher=submitit_local",
               "hydra.launcher.timeout_min=10"),
        tmp_path,
        env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert local.returncode == 0, local.stderr[-3000:]
    ran, reference = _jobs(tmp_path / "local"), _jobs(tmp_path / "basic")
    assert len(ran) == len(reference) == 4
    for job, expected in zip(ran, reference, strict=True):
        assert job.name == expected.name
        ours, theirs = _comparable(job), _comparable(expected)
        for key, value in theirs.items():
            if isinstance(value, float):
                assert ours[key] == pytest.approx(value, abs=1e-6), (job.name, key)
            elif key not in ("device_name",):
                assert ours[key] == value, (job.name, key)


def test_a_killed_search_continues_to_n_trials(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    import optuna

    args = [*SMALL, "hparams_search=optuna", "hydra.sweeper.n_trials=4",
            "hydra.sweeper.sampler.n_startup_trials=4", "trainer.max_steps=3",
            f"hydra.sweep.dir={tmp_path / 'search'}",
            f"paths.cache_dir={tmp_path / 'cache'}"]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "personafuse.train", *args], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        # The third trial's job started: the study holds the first two as complete.
        if len(_jobs(tmp_path / "search") if (tmp_path / "search").is_dir() else []) >= 3:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the search ended before it was killed"
    storage = f"sqlite:///{tmp_path / 'search' / 'optuna.db'}"
    complete = optuna.trial.TrialState.COMPLETE
    killed = optuna.load_study(study_name="search", storage=storage)
    assert sum(t.state == complete for t in killed.trials) in (2, 3)

    again = run_train_cli(args, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    study = optuna.load_study(study_name="search", storage=storage)
    assert sum(t.state == complete for t in study.trials) == 4  # never more than n_trials
    assert "search: " in again.stdout and " of 4 trials complete" in again.stdout
    best = next(line for line in again.stdout.splitlines() if line.startswith("python -m"))
    assert "model.optimizer.lr=" in best and "hparams_search" not in best
    # Each trial in its own job directory: the resumed ones after the killed search's.
    assert len(list((tmp_path / "search").glob("*/metrics.json"))) >= 4
    assert len(_jobs(tmp_path / "search")) == len(study.trials)
