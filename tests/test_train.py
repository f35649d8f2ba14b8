"""The training job on real configs with tiny data: every backbone, persona mode and fusion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personafuse.config import compose_config
from personafuse.train import train

from .conftest import TINY_TRAINING, run_train_cli

TINY = TINY_TRAINING
KEYS = {
    "val/hits@1",
    "val/hits@2",
    "val/hits@5",
    "val/mrr",
    "test/hits@1",
    "test/mrr",
    "best_checkpoint",
}


def _train(tmp_path: Path, overrides: list[str]) -> dict:
    cfg = compose_config(overrides=[*TINY, f"paths.cache_dir={tmp_path}/cache", *overrides])
    cfg.paths.output_dir = str(tmp_path / "run")  # normally ${hydra:runtime.output_dir}
    Path(cfg.paths.output_dir).mkdir(parents=True, exist_ok=True)
    return train(cfg)


@pytest.mark.parametrize(
    "overrides",
    [
        [
            "model=hre",
            "fusion=na",
            "persona=self",
            "+trainer.limit_train_batches=3",
            "trainer.max_epochs=1",
        ],
        ["model=imn", "fusion=cra", "persona=both", "trainer.fast_dev_run=true"],
        ["model=hre", "persona=none", "trainer.fast_dev_run=true"],
        [
            "model=imn",
            "fusion=ca",
            "persona=partner",
            "dataset.version=revised",
            "trainer.fast_dev_run=true",
        ],
        ["model=hre", "persona=partner", "persona.as_context=true", "trainer.fast_dev_run=true"],
    ],
    ids=[
        "hre-na-self-fit",
        "imn-cra-both",
        "hre-none",
        "imn-ca-partner-revised",
        "hre-partner-only",
    ],
)
def test_train_writes_metrics(tmp_path, overrides):
    metrics = _train(tmp_path, overrides)
    assert set(metrics) >= KEYS
    assert 0.0 <= metrics["test/hits@1"] <= metrics["test/hits@5"] <= 1.0
    assert 1 / 20 <= metrics["test/mrr"] <= 1.0
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved == metrics
    assert (tmp_path / "run" / "vocab.json").is_file()
    if "persona=none" in overrides or "persona.as_context=true" in overrides:
        assert metrics["fusion"] is None
    if "trainer.max_epochs=1" in overrides:
        assert metrics["best_checkpoint"].endswith("best.ckpt") and metrics["steps"] == 3
        assert (tmp_path / "run" / "csv").is_dir() and (tmp_path / "run" / "tensorboard").is_dir()


def test_validation_metrics_equal_a_direct_computation(tmp_path):
    """MeanMetric aggregation over uneven batches equals hits@1/MRR over all contexts at once."""
    import torch
    from hydra.utils import instantiate
    from lightning import Trainer

    from personafuse.metrics import hits_at_k, mrr
    from personafuse.models import build_rnn_ranker

    cfg = compose_config(
        overrides=[*TINY, f"paths.cache_dir={tmp_path}/cache", "model.eval_batch_size=7"]
    )
    datamodule = instantiate(cfg.datamodule)
    datamodule.setup("fit")
    featurizer = instantiate(cfg.model.featurizer).fit(datamodule.examples["train"])
    datamodule.featurizer = featurizer
    network = build_rnn_ranker(
        cfg.model, "ra", ("self",), featurizer, datamodule.examples["train"], None
    )
    module = instantiate(cfg.module, network=network)
    trainer = Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    logged = trainer.validate(module, datamodule=datamodule, verbose=False)[0]
    network.eval()
    with torch.no_grad():
        batches = list(datamodule.val_dataloader())
        scores = torch.cat([network(b) for b in batches])
        labels = torch.cat([b.labels for b in batches])
    assert len(labels) % 7 != 0
    assert logged["val/hits@1"] == pytest.approx(hits_at_k(scores, labels, 1).item(), abs=1e-6)
    assert logged["val/mrr"] == pytest.approx(mrr(scores, labels).item(), abs=1e-6)


def test_multirun_sweep_writes_one_directory_per_run(tmp_path):
    result = run_train_cli(
        [
            "--multirun",
            "model=hre,imn",
            "fusion=ra",
            "persona=self",
            *TINY,
            "trainer.fast_dev_run=true",
            f"paths.cache_dir={tmp_path}/cache",
            f"hydra.sweep.dir={tmp_path}/sweep",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted(p.parent.name for p in (tmp_path / "sweep").glob("*/metrics.json"))
    assert (
        len(runs) == 2
        and runs[0].startswith("0_")
        and runs[0].startswith("0_hre-ra-self")
        and runs[1].startswith("1_imn-ra-self")
    )


@pytest.mark.parametrize("override", ["model=lstm", "fusion=xyz", "persona=mine"])
def test_unknown_names_list_valid_choices(tmp_path, override):
    result = run_train_cli([override], tmp_path)
    assert result.returncode != 0
    group = override.split("=")[0]
    assert f"Could not find '{group}/" in result.stderr and "Available options" in result.stderr
    assert "Traceback" not in result.stderr
