"""Main job: ``python -m personafuse.train [group=choice ...] [key=value ...]``. Hydra composes
the config; this file checks it, builds the data module, network, callbacks, loggers and
trainer, fits, evaluates the best checkpoint and writes ``metrics.json`` into the run directory.
Lightning and the models load inside the functions, so that ``--help``, shell completion and a
mistyped command line answer in about a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from personafuse.config import CONFIG_DIR
from personafuse.runs.directory import resume_checkpoint, written_files
from personafuse.runs.jobs import LAST_SWEEP_FAILURES, continue_job, in_multirun, resume_mode
from personafuse.runs.overrides import check_command_line

__all__ = ["STAGES", "build_training", "main", "train"]

STAGES = (("val", "valid"), ("test", "test"))


def build_training(cfg: DictConfig):
    """Check the config, seed, then build the data module (train split read, featurizer fitted
    on it) and the LightningModule around the network. Returns ``(datamodule, module)``."""
    from personafuse.runs.checks import check_config

    check_config(cfg)  # names, values and the backbone's and module's own, before any data
    import lightning as L  # after the check: a bad value is refused before torch loads

    from personafuse.runs.network import build_network

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
    from personafuse.checkpoints import load_verified
    from personafuse.runs.record import evaluate_splits, plain_config, run_metadata
    from personafuse.runs.trainer import build_trainer

    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is None and resume_mode(cfg):  # a sweep's job continues where it stopped
        done, ckpt_path = continue_job(output_dir)
        if done is not None:
            print(f"complete already: {output_dir}", flush=True)
            return done
    resume = resume_checkpoint(ckpt_path, output_dir)
    datamodule, module = build_training(cfg)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    trainer = build_trainer(cfg, output_dir, callbacks, loggers)
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
def _run(cfg: DictConfig) -> float | None:
    from personafuse.cli import isolated_job, one_line_errors
    from personafuse.runs.checks import check_config
    from personafuse.runs.console import print_metrics, start_console

    metrics = None
    with isolated_job(Path(cfg.paths.output_dir)) if in_multirun() else one_line_errors():
        check_config(cfg)  # first: a bad value is refused in a second, before torch loads
        start_console(cfg)
        metrics = train(cfg)  # bad input: one line; in a sweep, recorded and the sweep goes on
    if metrics is None:
        return None
    from lightning.pytorch.utilities import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) == 0:
        print_metrics(metrics, STAGES)
        print(f"outputs: {cfg.paths.output_dir} ({', '.join(written_files(cfg.paths.output_dir))})")
    # What a hyperparameter search maximises (hparams_search=...).
    return metrics.get(cfg.optimized_metric) if cfg.get("optimized_metric") else None


def main() -> None:
    """Entry point: unknown config-group choices fail in one line before Hydra composes."""
    check_command_line(sys.argv[1:])
    _run()
    if LAST_SWEEP_FAILURES:  # listed by the sweep's summary callback
        sys.exit(1)


if __name__ == "__main__":
    main()
