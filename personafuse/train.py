"""Main job: ``python -m personafuse.train [group=choice ...] [key=value ...]``.

Hydra composes ``dataset / persona / model / fusion / trainer / callbacks / logger``; this
file checks the names, builds the data module, the network, the callbacks, loggers and trainer,
fits, evaluates the best checkpoint and writes ``metrics.json`` into the run directory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from personafuse.checkpoints import load_verified
from personafuse.cli import check_command_line
from personafuse.config import CONFIG_DIR
from personafuse.console import ProgressBar, start_console
from personafuse.network import build_network, check_network_config
from personafuse.runs import (
    USER_ERRORS,
    evaluate_splits,
    plain_config,
    print_metrics,
    resume_checkpoint,
    run_metadata,
    written_files,
)
from personafuse.validation import validate_config

__all__ = ["STAGES", "build_training", "main", "train"]

STAGES = (("val", "valid"), ("test", "test"))


def build_training(cfg: DictConfig):
    """Check the names, seed, then build the data module (train split read, featurizer fitted
    on it) and the LightningModule around the configured network.

    Returns:
        ``(datamodule, module)``; ``datamodule.featurizer`` is the fitted featurizer.
    """
    validate_config(cfg)  # settings and names, before any data is read
    check_network_config(cfg)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.datamodule)
    datamodule.prepare_data()
    datamodule.setup("fit")
    train_examples = datamodule.examples["train"]
    datamodule.featurizer = instantiate(cfg.model.featurizer).fit(train_examples)
    network = build_network(cfg, datamodule.featurizer, train_examples)
    return datamodule, instantiate(cfg.module, network=network)


def train(cfg: DictConfig) -> dict:
    """Fit and test one configuration; returns the metrics also written to ``metrics.json``."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    resume = resume_checkpoint(cfg.get("ckpt_path"), output_dir)
    datamodule, module = build_training(cfg)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    if cfg.trainer.get("enable_progress_bar", True):
        callbacks.append(ProgressBar())
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    trainer = instantiate(
        cfg.trainer, default_root_dir=output_dir, callbacks=callbacks, logger=loggers or False
    )
    if trainer.is_global_zero:
        datamodule.featurizer.save(output_dir)
    for logger in loggers:
        logger.log_hyperparams(plain_config(cfg))
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume)

    # None under fast_dev_run, with callbacks=none, or when no validation ran (then the
    # final weights are evaluated: last.ckpt holds them)
    best = getattr(trainer.checkpoint_callback, "best_model_path", None) or None
    if best:
        load_verified(best)
    last = output_dir / "checkpoints" / "last.ckpt"
    metrics = evaluate_splits(trainer, module, datamodule, best, output_dir, STAGES)
    metrics |= run_metadata(cfg) | {
        "monitor": cfg.monitor,
        "best_checkpoint": best,
        "checkpoint": best or (str(last) if last.is_file() else None),
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
    }
    if trainer.is_global_zero:
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def _run(cfg: DictConfig) -> None:
    start_console(cfg)
    try:
        metrics = train(cfg)
    except USER_ERRORS as err:
        # Bad input is the user's to fix: say what and where, without a traceback.
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    if rank_zero_only.rank == 0:
        print_metrics(metrics, STAGES)
        print(f"outputs: {cfg.paths.output_dir} ({', '.join(written_files(cfg.paths.output_dir))})")


def main() -> None:
    """Entry point: unknown config-group choices fail in one line before Hydra composes."""
    check_command_line(sys.argv[1:])
    _run()


if __name__ == "__main__":
    main()
