"""Evaluate any checkpoint: ``python -m personafuse.evaluate ckpt_path=PATH [split=test] [...]``.

The training run's own overrides (``.hydra/overrides.yaml`` beside ``checkpoints/``) rebuild
its configuration; further ``key=value`` or ``group=choice`` overrides change the data, e.g.
``dataset.version=revised`` or ``split=valid``. Writes ``metrics.json`` and the per-candidate
``predictions_{split}.tsv`` (:mod:`personafuse.predictions`) into ``out`` (default
``RUN_DIR/evaluate/SPLIT/``).

Arguments of this command (everything else is a config override):
    ckpt_path: The checkpoint (``RUN_DIR/checkpoints/best.ckpt``).
    split: ``train``, ``valid`` or ``test`` (default ``test``).
    out: Output directory.

Examples::

    python -m personafuse.evaluate ckpt_path=outputs/DATE/TIME/checkpoints/best.ckpt
    python -m personafuse.evaluate ckpt_path=RUN/checkpoints/best.ckpt split=valid
    python -m personafuse.evaluate ckpt_path=RUN/checkpoints/best.ckpt dataset.version=revised
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from personafuse.data.sources import SPLITS

__all__ = ["EvaluationError", "evaluate", "main"]

OWN_ARGUMENTS = ("ckpt_path", "split", "out")


class EvaluationError(ValueError):
    """A bad argument of the evaluate command."""


def training_overrides(run_dir: Path) -> list[str]:
    """The overrides the training run was composed with, from Hydra's record of them, and its
    config search path (where plugin configs live)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    overrides = yaml.safe_load(path.read_text()) or []
    # Paths of the training run do not apply to the evaluation's outputs.
    kept = [o for o in overrides if not o.lstrip("+~").startswith(("paths.output_dir", "hydra."))]
    hydra_yaml = run_dir / ".hydra" / "hydra.yaml"
    if hydra_yaml.is_file():
        recorded = yaml.safe_load(hydra_yaml.read_text())["hydra"]["overrides"]["hydra"] or []
        kept += [o for o in recorded if o.startswith("hydra.searchpath=")]
    return kept


def evaluate(
    ckpt_path: str | Path,
    overrides: list[str],
    split: str = "test",
    out=None,
    task: str | None = None,
) -> dict:
    """Evaluate one checkpoint on one split; returns the metrics also written to disk.

    ``module.*`` overrides (e.g. ``module.decoding.strategy=beam``) change the module's saved
    settings; ``task`` (``ranking``/``generation``) refuses a checkpoint of the other kind.
    """
    import lightning as L
    from hydra.utils import get_class, instantiate
    from omegaconf import OmegaConf

    from personafuse.checkpoints import load_verified
    from personafuse.cli import unknown_key
    from personafuse.config import compose_config
    from personafuse.console import quiet_console
    from personafuse.network import restore_network
    from personafuse.runs import evaluate_splits, run_metadata
    from personafuse.validation import validate_config

    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise EvaluationError(f"ckpt_path={ckpt_path}: no such file")
    if split not in SPLITS:
        raise EvaluationError(f"split={split}; valid choices: {', '.join(SPLITS)}")
    checkpoint = load_verified(ckpt_path)
    run_dir = ckpt_path.resolve().parent.parent
    if message := unknown_key([*training_overrides(run_dir), *overrides]):
        raise EvaluationError(message)
    cfg = compose_config(overrides=[*training_overrides(run_dir), *overrides])
    quiet_console(bool(cfg.get("verbose", False)))
    validate_config(cfg)
    out = Path(out) if out else run_dir / "evaluate" / split
    out.mkdir(parents=True, exist_ok=True)

    try:
        featurizer, network = restore_network(cfg, run_dir, checkpoint)
        module_class = get_class(cfg.module._target_)
        settings = dict(checkpoint["hyper_parameters"])
        for key in settings.keys() & set(cfg.module.keys()):  # the run's, or overridden
            value = cfg.module[key]
            settings[key] = (
                OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            )
        module = module_class(network=network, optimizer=None, **settings)
        module.load_state_dict(checkpoint["state_dict"])
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        reason = str(err).split("\n")[0]
        raise EvaluationError(f"{ckpt_path}: cannot restore its network: {reason}") from None
    if task is not None and getattr(module_class, "task", task) != task:
        command = "evaluate" if module_class.task == "ranking" else "generate"
        raise EvaluationError(
            f"{ckpt_path}: a {module_class.task} checkpoint (model={cfg.model.name}); use "
            f"python -m personafuse.{command}"
        )
    datamodule = instantiate(cfg.datamodule)
    datamodule.featurizer = featurizer
    datamodule.prepare_data()
    examples = datamodule.load_split(split)
    settings = cfg.trainer  # the training run's devices, or trainer=... / trainer.devices=...
    trainer = L.Trainer(
        accelerator=settings.accelerator,
        devices=settings.devices,
        strategy=settings.get("strategy", "auto"),
        num_nodes=settings.get("num_nodes", 1),
        precision=settings.precision,
        deterministic=settings.deterministic,
        use_distributed_sampler=False,  # the datamodule shards without duplicates
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=settings.enable_progress_bar,
        enable_model_summary=False,
        limit_val_batches=settings.get("limit_val_batches", 1.0),
        limit_test_batches=settings.get("limit_test_batches", 1.0),
    )
    datamodule.trainer = trainer
    metrics = evaluate_splits(trainer, module, datamodule, None, out, [(split, split)])
    metrics |= {"split": split, "checkpoint": str(ckpt_path)} | run_metadata(cfg)
    metrics |= {"contexts": len(examples), "overrides": [*training_overrides(run_dir), *overrides]}
    if trainer.is_global_zero:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def parse_arguments(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split ``key=value`` arguments into this command's own and config overrides."""
    own, overrides = {}, []
    for argument in argv:
        key, sep, value = argument.partition("=")
        if not sep:
            raise EvaluationError(f"{argument!r}: arguments are key=value (e.g. ckpt_path=...)")
        if key in OWN_ARGUMENTS:
            own[key] = value
        else:
            overrides.append(argument)
    if "ckpt_path" not in own:
        raise EvaluationError("ckpt_path=PATH is required (a run's checkpoints/best.ckpt)")
    return own, overrides


def main(argv: list[str] | None = None, task: str | None = None) -> None:
    from hydra.errors import HydraException

    argv = sys.argv[1:] if argv is None else argv
    if any(argument in ("-h", "--help") for argument in argv):
        print(__doc__.strip())
        return

    from personafuse.cli import unknown_choice
    from personafuse.runs import USER_ERRORS, print_metrics, written_files

    try:
        own, overrides = parse_arguments(argv)
        if message := unknown_choice(overrides):
            raise EvaluationError(message)
        metrics = evaluate(
            own["ckpt_path"], overrides, own.get("split", "test"), own.get("out"), task
        )
    except (EvaluationError, HydraException, *USER_ERRORS) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    from lightning.pytorch.utilities import rank_zero_only

    if rank_zero_only.rank == 0:
        print_metrics(metrics, [(metrics["split"], metrics["split"])])
        out = Path(own.get("out") or Path(own["ckpt_path"]).resolve().parent.parent / "evaluate"
                   / metrics["split"])  # fmt: skip
        print(f"outputs: {out} ({', '.join(written_files(out))})")


if __name__ == "__main__":
    main()
