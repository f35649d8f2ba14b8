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
    """The overrides the training run was composed with, from Hydra's record of them."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    overrides = yaml.safe_load(path.read_text()) or []
    # Paths of the training run do not apply to the evaluation's outputs.
    return [o for o in overrides if not o.lstrip("+~").startswith(("paths.output_dir", "hydra."))]


def _featurizer_and_network(cfg, run_dir: Path, ckpt_path: Path):
    import numpy as np
    import torch
    from hydra.utils import instantiate

    from personafuse.models import build_bert_ranker, build_rnn_ranker, fused_personas

    personas = fused_personas(cfg.persona.name, cfg.persona.as_context)
    if cfg.model.family == "bert":
        tokenizer_dir = run_dir / "tokenizer"
        if not tokenizer_dir.is_dir():
            raise EvaluationError(f"{tokenizer_dir}: missing; was {ckpt_path} trained by BERT?")
        featurizer = instantiate(cfg.model.featurizer, pretrained=str(tokenizer_dir))
        return featurizer, build_bert_ranker(cfg.model, cfg.fusion.name, personas, featurizer)
    if not (run_dir / "vocab.json").is_file():
        raise EvaluationError(f"{run_dir / 'vocab.json'}: missing; it is saved by training")
    featurizer = instantiate(cfg.model.featurizer).load(run_dir)
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True)["state_dict"]
    table = next((v for k, v in state.items() if k.endswith("words.words.weight")), None)
    if table is None:
        raise EvaluationError(f"{ckpt_path}: not an HRE/IMN checkpoint (no word vectors)")
    placeholders = np.zeros(tuple(table.shape), dtype=np.float32)  # the checkpoint fills them
    network = build_rnn_ranker(
        cfg.model, cfg.fusion.name, personas, featurizer, (), word_vectors=placeholders
    )
    return featurizer, network


def evaluate(ckpt_path: str | Path, overrides: list[str], split: str = "test", out=None) -> dict:
    """Evaluate one checkpoint on one split; returns the metrics also written to disk."""
    import lightning as L
    import torch
    from hydra.utils import instantiate

    from personafuse.config import compose_config
    from personafuse.lit import RankingModule
    from personafuse.models import fused_personas
    from personafuse.predictions import write_predictions

    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        raise EvaluationError(f"ckpt_path={ckpt_path}: no such file")
    if split not in SPLITS:
        raise EvaluationError(f"split={split}; valid choices: {', '.join(SPLITS)}")
    run_dir = ckpt_path.resolve().parent.parent
    cfg = compose_config(overrides=[*training_overrides(run_dir), *overrides])
    out = Path(out) if out else run_dir / "evaluate" / split
    out.mkdir(parents=True, exist_ok=True)

    datamodule = instantiate(cfg.datamodule)
    datamodule.prepare_data()
    examples = datamodule.load_split(split)
    featurizer, network = _featurizer_and_network(cfg, run_dir, ckpt_path)
    datamodule.featurizer = featurizer
    module = RankingModule.load_from_checkpoint(
        ckpt_path, network=network, optimizer=None, map_location="cpu"
    )
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=cfg.trainer.enable_progress_bar,
        enable_model_summary=False,
    )
    loader = datamodule.eval_dataloader(split)
    raw = trainer.test(module, dataloaders=loader, verbose=False)[0]
    scores = torch.cat(module.scores["test"])
    write_predictions(out / f"predictions_{split}.tsv", examples, scores)
    metrics = {key.replace("test/", f"{split}/"): round(float(v), 6) for key, v in raw.items()}
    as_context = bool(cfg.persona.as_context)
    metrics |= {
        "split": split,
        "checkpoint": str(ckpt_path),
        "model": cfg.model.name,
        "fusion": cfg.fusion.name if fused_personas(cfg.persona.name, as_context) else None,
        "persona": cfg.persona.name,
        "persona_as_context": as_context,
        "version": cfg.dataset.version,
        "dataset": cfg.dataset._target_.rsplit(".", 1)[-1],
        "candidate_seed": cfg.datamodule.candidate_seed,
        "contexts": len(examples),
        "overrides": [*training_overrides(run_dir), *overrides],
    }
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


def main(argv: list[str] | None = None) -> None:
    from hydra.errors import HydraException

    from personafuse.train import USER_ERRORS

    try:
        own, overrides = parse_arguments(sys.argv[1:] if argv is None else argv)
        metrics = evaluate(own["ckpt_path"], overrides, own.get("split", "test"), own.get("out"))
    except (EvaluationError, HydraException, *USER_ERRORS) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    split = metrics["split"]
    keys = ("hits@1", "hits@2", "hits@5", "mrr")
    print(" ".join(f"{split}/{k}={metrics[f'{split}/{k}']:.4f}" for k in keys))


if __name__ == "__main__":
    main()
