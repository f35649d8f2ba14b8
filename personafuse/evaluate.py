"""Evaluate any checkpoint: ``python -m personafuse.evaluate ckpt_path=PATH [split=test] [...]``.

The training run's own overrides (``.hydra/overrides.yaml`` beside ``checkpoints/``) rebuild
its configuration; further ``key=value`` or ``group=choice`` overrides change the data, e.g.
``dataset.version=revised`` or ``split=valid``. Writes ``metrics.json`` and the per-candidate
``predictions_{split}.tsv`` (:mod:`personafuse.scoring.predictions`) into ``out`` (default
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

__all__ = ["OWN_ARGUMENTS", "evaluate", "main"]

OWN_ARGUMENTS = ("ckpt_path", "split", "out")


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
    from hydra.utils import instantiate

    from personafuse.cli.arguments import ArgumentError
    from personafuse.data.sources import SPLITS
    from personafuse.runs.console import quiet_console
    from personafuse.runs.directory import output_directory, training_overrides
    from personafuse.runs.record import evaluate_splits, run_metadata
    from personafuse.runs.restore import restore_run
    from personafuse.runs.trainer import build_trainer

    if split not in SPLITS:
        raise ArgumentError(f"split={split}; valid choices: {', '.join(SPLITS)}")
    quiet_console("verbose=true" in overrides)
    run = restore_run(ckpt_path, overrides)
    if task is not None:
        run.require_task(task, f"python -m personafuse.{COMMANDS[run.task]}")
    module = run.module()
    out = Path(out) if out else output_directory(ckpt_path, "evaluate", split)
    out.mkdir(parents=True, exist_ok=True)
    datamodule = instantiate(run.cfg.datamodule)
    datamodule.featurizer = run.featurizer
    datamodule.prepare_data()
    examples = datamodule.load_split(split)
    # The training run's trainer settings (devices, precision, limits) or their overrides.
    trainer = build_trainer(run.cfg, out, enable_checkpointing=False, enable_model_summary=False)
    datamodule.trainer = trainer
    metrics = evaluate_splits(trainer, module, datamodule, None, out, [(split, split)])
    metrics |= {"split": split, "checkpoint": str(ckpt_path)} | run_metadata(run.cfg)
    recorded = [*training_overrides(run.run_dir), *overrides]
    metrics |= {"contexts": len(examples), "overrides": recorded}
    if trainer.is_global_zero:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


# The command that reads each task's checkpoints.
COMMANDS = {"ranking": "evaluate", "generation": "generate"}


def main(argv: list[str] | None = None, task: str | None = None, doc: str | None = None) -> None:
    """The command (``generate`` is this with ``task="generation"`` and its own ``doc``)."""
    from personafuse.cli import wants_help

    argv = sys.argv[1:] if argv is None else argv
    if wants_help(argv, doc or __doc__):
        return
    from personafuse.cli import one_line_errors, parse_arguments

    command = COMMANDS[task or "ranking"]
    with one_line_errors():
        own, overrides = parse_arguments(argv, OWN_ARGUMENTS, ("ckpt_path",), overrides=True)
        from personafuse.runs.directory import output_directory

        split = own.get("split", "test")
        out = Path(own.get("out") or output_directory(own["ckpt_path"], command, split))
        metrics = evaluate(own["ckpt_path"], overrides, split, out, task)
    from lightning.pytorch.utilities import rank_zero_only

    from personafuse.runs.console import print_metrics
    from personafuse.runs.directory import written_files

    if getattr(rank_zero_only, "rank", 0) == 0:
        print_metrics(metrics, [(split, split)])
        print(f"outputs: {out} ({', '.join(written_files(out))})")


if __name__ == "__main__":
    main()
