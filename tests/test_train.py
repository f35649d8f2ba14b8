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


def _train(tmp_path: Path, overrides: list[str], tiny: bool = True) -> dict:
    tiny_overrides = TINY if tiny else []
    cfg = compose_config(
        overrides=[*tiny_overrides, f"paths.cache_dir={tmp_path}/cache", *overrides]
    )
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
            "trainer.limit_train_batches=3",
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

    from personafuse.runs.network import build_network
    from personafuse.scoring.metrics import hits_at_k, mrr

    cfg = compose_config(
        overrides=[*TINY, f"paths.cache_dir={tmp_path}/cache", "model.eval_batch_size=7"]
    )
    datamodule = instantiate(cfg.datamodule)
    datamodule.setup("fit")
    featurizer = instantiate(cfg.model.featurizer).fit(datamodule.examples["train"])
    datamodule.featurizer = featurizer
    network = build_network(cfg, featurizer, datamodule.examples["train"])
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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=lstm"], "error: model=lstm: no such choice; valid choices: bert, hre, imn"),
        (["fusion=xyz"], "error: fusion=xyz: no such choice; valid choices: ca, cra, na, ra"),
        (["persona=mine"], "error: persona=mine: no such choice; valid choices: both, none, "),
        (
            ["--multirun", "model=hre,imnn"],
            "error: model=imnn: no such choice; valid choices: bert, ",
        ),
    ],
)
def test_unknown_names_fail_in_one_line_with_the_valid_choices(tmp_path, overrides, message):
    result = run_train_cli(overrides, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    if "imnn" in overrides[-1]:
        assert "did you mean 'imn'?" in result.stderr
    assert not (tmp_path / "multirun").exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["fusion.name=ghost"], "fusion=ghost: unknown fusion 'ghost'; valid choices: ca, cra,"),
        (["model.name=ghost"], "model=ghost: unknown model 'ghost'; valid choices: bert, hre,"),
        (["model.matching=[concat,product]"], "model.matching: unknown matching feature 'product'"),
        (["model=bert", "model.truncation=oldest"], "model.truncation=oldest; valid choices:"),
    ],
)
def test_names_nothing_registered_fail_before_any_data_is_read(tmp_path, overrides, message):
    """A YAML whose module is missing (or a bad name) fails when the config is composed: the
    data directory here does not exist, so reading any data would fail differently."""
    from personafuse.config import ConfigError

    missing_data = ["dataset=personachat", f"paths.data_dir={tmp_path}/none"]
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")) as caught:
        _train(tmp_path, [*missing_data, *overrides], tiny=False)
    assert "\n" not in str(caught.value)


def test_a_fusion_a_backbone_cannot_serve_is_refused_with_those_that_can(tmp_path, monkeypatch):
    from personafuse.config import ConfigError
    from personafuse.fusion import FUSIONS, BertLayout, PersonaFusion

    class BertOnly(PersonaFusion):  # a layout for BERT, no attention over profile vectors
        bert = BertLayout(("persona",))

    monkeypatch.setitem(FUSIONS._entries, "bert-only", BertOnly)
    with pytest.raises(ConfigError, match=r"fusion=bert-only cannot serve model=hre; fusions "):
        _train(tmp_path, ["fusion.name=bert-only", "dataset=personachat"], tiny=False)
