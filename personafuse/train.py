"""Main job: ``python -m personafuse.train [group=choice ...] [key=value ...]``.

Hydra composes ``dataset / persona / model / fusion / trainer``; this file builds the data
module, the network and the trainer, fits, tests the best checkpoint, and writes
``metrics.json`` into the run directory.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from personafuse.config import CONFIG_DIR
from personafuse.data import DatasetNotFoundError, PersonaChatFormatError, PersonaSelectionError
from personafuse.models import build_ranker, fused_personas
from personafuse.predictions import write_predictions

__all__ = ["build_training", "evaluate_splits", "main", "train"]

log = logging.getLogger(__name__)
USER_ERRORS = (DatasetNotFoundError, PersonaChatFormatError, PersonaSelectionError)


def build_training(cfg: DictConfig):
    """Seed, then build the data module (train split read, featurizer fitted on it) and the
    LightningModule around the configured network.

    Returns:
        ``(datamodule, module)``; ``datamodule.featurizer`` is the fitted featurizer.
    """
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.datamodule)
    datamodule.prepare_data()
    datamodule.setup("fit")
    train_examples = datamodule.examples["train"]
    featurizer = instantiate(cfg.model.featurizer).fit(train_examples)
    datamodule.featurizer = featurizer
    personas = fused_personas(cfg.persona.name, cfg.persona.as_context)
    network = build_ranker(
        cfg.model,
        cfg.fusion.name,
        personas,
        featurizer,
        train_examples,
        cfg.paths.cache_dir,
        cfg.seed,
    )
    return datamodule, instantiate(cfg.module, network=network)


def train(cfg: DictConfig) -> dict:
    """Fit and test one configuration; returns the metrics also written to ``metrics.json``."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    datamodule, module = build_training(cfg)
    datamodule.featurizer.save(output_dir)
    personas = fused_personas(cfg.persona.name, cfg.persona.as_context)
    checkpoint = ModelCheckpoint(
        dirpath=output_dir / "checkpoints", filename="best", monitor=cfg.monitor, mode="max"
    )
    loggers = [CSVLogger(output_dir, name="csv"), TensorBoardLogger(output_dir, name="tensorboard")]
    trainer = instantiate(
        cfg.trainer, default_root_dir=output_dir, callbacks=[checkpoint], logger=loggers
    )
    config = {
        key: OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
        for key, value in cfg.items()
        if key != "hydra"
    }
    for logger in loggers:
        logger.log_hyperparams(config)
    trainer.fit(module, datamodule=datamodule)

    best = checkpoint.best_model_path or None  # none under fast_dev_run
    metrics = evaluate_splits(trainer, module, datamodule, best, output_dir)
    metrics |= {
        "model": cfg.model.name,
        "fusion": cfg.fusion.name if personas else None,
        "subtype": bool(cfg.model.subtype) if "subtype" in cfg.model else None,
        "persona": cfg.persona.name,
        "persona_as_context": bool(cfg.persona.as_context),
        "version": cfg.dataset.version,
        "dataset": cfg.dataset._target_.rsplit(".", 1)[-1],
        "seed": cfg.seed,
        "candidate_seed": cfg.datamodule.candidate_seed,
        "monitor": cfg.monitor,
        "best_checkpoint": best,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def evaluate_splits(trainer, module, datamodule, ckpt_path, output_dir: Path) -> dict:
    """Validate and test ``ckpt_path``; write ``predictions_{valid,test}.tsv``; time the
    validation pass (Table 6: contexts/s and pairs/s, with the device named)."""
    start = time.perf_counter()
    metrics = trainer.validate(module, datamodule=datamodule, ckpt_path=ckpt_path, verbose=False)[0]
    seconds = time.perf_counter() - start
    metrics |= trainer.test(module, datamodule=datamodule, ckpt_path=ckpt_path, verbose=False)[0]
    metrics = {key: round(float(value), 6) for key, value in metrics.items()}
    for stage, split in (("val", "valid"), ("test", "test")):
        scores = torch.cat(module.scores[stage]) if module.scores[stage] else None
        examples = datamodule.examples[split]
        if scores is not None and len(scores) == len(examples):  # not under limit_*_batches
            write_predictions(output_dir / f"predictions_{split}.tsv", examples, scores)
    contexts = sum(len(s) for s in module.scores["val"])
    pairs = sum(s.numel() for s in module.scores["val"])
    device = trainer.strategy.root_device
    metrics |= {
        "val/contexts_per_s": round(contexts / seconds, 2),
        "val/pairs_per_s": round(pairs / seconds, 2),
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
    }
    return metrics


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _print_metrics(metrics: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    fusion = metrics["fusion"] or "-"
    persona = metrics["persona"] + (" (as context)" if metrics["persona_as_context"] else "")
    title = f"{metrics['model']} · fusion={fusion} · persona={persona} · {metrics['dataset']}"
    table = Table(title=title)
    for column in ("split", "hits@1", "hits@2", "hits@5", "MRR"):
        table.add_column(column, justify="right")
    for stage, name in (("val", "valid"), ("test", "test")):
        row = [f"{metrics[f'{stage}/{m}']:.4f}" for m in ("hits@1", "hits@2", "hits@5", "mrr")]
        table.add_row(name, *row)
    Console().print(table)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> None:
    log.info("config:\n%s", OmegaConf.to_yaml(cfg, resolve=False))
    try:
        metrics = train(cfg)
    except USER_ERRORS as err:
        # Bad input is the user's to fix: say what and where, without a traceback.
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    _print_metrics(metrics)
    log.info("metrics written to %s", Path(cfg.paths.output_dir) / "metrics.json")


if __name__ == "__main__":
    main()
