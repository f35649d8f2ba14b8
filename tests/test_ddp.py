"""Two CPU processes (DDP over gloo) give the metrics of one process: evaluation shards the
contexts without duplicates, training splits each batch exactly; predictions are written once
with every context once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from personafuse.scoring.predictions import read_predictions

from .conftest import TINY_TRAINING, run_train_cli

SHORT = [*TINY_TRAINING, "trainer.max_epochs=1", "trainer.limit_train_batches=6", "model.dropout=0"]
TIMING = ("_per_s", "cpu_share", "best_checkpoint", "checkpoint")


def _metrics(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.endswith(TIMING)}


def _assert_same(one: dict, two: dict) -> None:
    assert one.keys() == two.keys()
    for key, value in one.items():
        if isinstance(value, float):
            assert two[key] == pytest.approx(value, abs=1e-6), key
        else:
            assert two[key] == value, key


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """One process with batches of 8 contexts, two processes with 4 each (the same batches)."""
    root = tmp_path_factory.mktemp("ddp")
    common = [*SHORT, f"paths.cache_dir={root}/cache"]
    one = run_train_cli([*common, "model.train_batch_size=8", f"hydra.run.dir={root}/one"], root)
    assert one.returncode == 0, one.stderr[-3000:]
    two = run_train_cli(
        [
            *common,
            "trainer=ddp_cpu",
            "model.train_batch_size=4",
            f"hydra.run.dir={root}/two",
        ],
        root,
        {"OMP_NUM_THREADS": "1"},
    )
    assert two.returncode == 0, two.stderr[-3000:]
    return root


def test_training_on_two_processes_gives_the_metrics_of_one(runs):
    _assert_same(_metrics(runs / "one" / "metrics.json"), _metrics(runs / "two" / "metrics.json"))
    for split in ("valid", "test"):
        one = read_predictions(runs / "one" / f"predictions_{split}.tsv")
        two = read_predictions(runs / "two" / f"predictions_{split}.tsv")
        assert list(two.context_ids) == list(one.context_ids)  # every context once, in order
        assert list(two.true_ranks) == list(one.true_ranks)


def test_evaluation_on_two_processes_gives_the_scores_of_one(runs):
    checkpoint = runs / "one" / "checkpoints" / "best.ckpt"
    outputs = {}
    for name, extra in (("single", []), ("ddp", ["trainer=ddp_cpu"])):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "personafuse.evaluate",
                f"ckpt_path={checkpoint}",
                "split=valid",
                f"out={runs}/eval-{name}",
                *extra,
            ],
            cwd=runs,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        outputs[name] = runs / f"eval-{name}"
    single, ddp = (_metrics(outputs[n] / "metrics.json") for n in ("single", "ddp"))
    single.pop("overrides"), ddp.pop("overrides")
    _assert_same(single, ddp)
    lines = {
        name: [
            line.split("\t") for line in (out / "predictions_valid.tsv").read_text().splitlines()
        ]
        for name, out in outputs.items()
    }
    assert len(lines["ddp"]) == len(lines["single"])
    for a, b in zip(lines["single"], lines["ddp"], strict=True):
        assert a[:2] == b[:2] and a[3:] == b[3:]
        # Scores are written with 6 significant digits. Each process's batches hold other
        # contexts (and share other sentences), so float32 rounding may differ by ~1e-7 and
        # flip the last written digit: one unit of it, plus that noise.
        assert float(b[2]) == pytest.approx(float(a[2]), abs=2e-6)
