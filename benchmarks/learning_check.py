"""Do the models learn? HRE / IMN x {none, NA, CA, RA, CRA} x {self, partner}, synthetic corpus.

Each cell trains for a fixed budget and reports the validation and test hits@1 / MRR of its
best checkpoint. HRE/IMN use the demo settings (conf/experiment/demo.yaml: a small network,
no dropout, element-wise products and utterance attention in the matching feature) for two
epochs, the budget of docs/benchmarks.md and tests/test_learning.py; BERT uses MiniLM-L6 with
conf/experiment/bert_demo.yaml (300 steps, lr 1e-4, 128 tokens). The synthetic numbers are never
comparable with the paper's.

    python benchmarks/learning_check.py [--quick] [--models hre,imn,bert] [--epochs 2] [--out DIR]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from personafuse.config import compose_config
from personafuse.train import train

CHANCE = {"hits@1": 1 / 20, "mrr": sum(1 / r for r in range(1, 21)) / 20}


EXPERIMENT = {"hre": "demo", "imn": "demo", "bert": "bert_demo"}


def cells(models: list[str], quick: bool, chosen: str | None = None) -> list[tuple[str, str, str]]:
    if chosen:  # "ra/self,ra/none"
        return [(m, *c.split("/")) for m in models for c in chosen.split(",")]
    if quick:
        return [(models[0], "ra", "none"), (models[0], "ra", "self")]
    out = []
    for model in models:
        if model == "bert":  # issue 4: the four strategies with the self persona
            out += [(model, fusion, "self") for fusion in ("na", "ca", "ra", "cra")]
            continue
        out.append((model, "ra", "none"))
        out += [
            (model, fusion, persona)
            for persona in ("self", "partner")
            for fusion in ("na", "ca", "ra", "cra")
        ]
    return out


def run_cell(model: str, fusion: str, persona: str, out: Path, overrides: list[str]) -> dict:
    cfg = compose_config(
        overrides=[
            f"experiment={EXPERIMENT[model]}",
            f"model={model}",
            f"fusion={fusion}",
            f"persona={persona}",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
            *overrides,
        ]
    )
    run_dir = out / f"{model}-{fusion if persona != 'none' else 'none'}-{persona}"
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.paths.output_dir = str(run_dir)
    start = time.perf_counter()
    metrics = train(cfg)
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="two HRE cells on a small corpus (< 60 s)"
    )
    parser.add_argument("--models", default="hre,imn")
    parser.add_argument("--epochs", type=int, help="default: 2, or 1 with --quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="keep the run directories here")
    parser.add_argument("--cells", help="only these fusion/persona cells, e.g. ra/self,ra/none")
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()
    if args.epochs is None:
        args.epochs = 1 if args.quick else 2
    overrides = [f"trainer.max_epochs={args.epochs}", f"seed={args.seed}", *args.override]
    if args.quick:
        overrides += [
            "dataset.dialogues.train=150",
            "dataset.dialogues.valid=30",
            "dataset.dialogues.test=30",
        ]
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        results = {}
        for model, fusion, persona in cells(args.models.split(","), args.quick, args.cells):
            metrics = run_cell(model, fusion, persona, out, overrides)
            key = f"{model}/{fusion if persona != 'none' else 'none'}/{persona}"
            results[key] = {
                k: metrics[k]
                for k in ("val/hits@1", "val/mrr", "test/hits@1", "test/mrr", "steps", "seconds")
            }
            print(key, results[key], flush=True)
    table = Table(
        title=f"learning check on the synthetic corpus ({args.epochs} epoch(s), seed {args.seed})"
    )
    for column in (
        "model",
        "fusion",
        "persona",
        "val hits@1",
        "val MRR",
        "test hits@1",
        "test MRR",
        "steps",
        "s",
    ):
        table.add_column(column, justify="right")
    table.add_row("-", "-", "chance", *[f"{CHANCE[m]:.3f}" for m in ("hits@1", "mrr")] * 2, "", "")
    for key, r in results.items():
        table.add_row(
            *key.split("/"),
            *(f"{r[k]:.3f}" for k in ("val/hits@1", "val/mrr", "test/hits@1", "test/mrr")),
            str(r["steps"]),
            str(r["seconds"]),
        )
    Console().print(table)
    summary = {
        "benchmark": "learning_check",
        "quick": args.quick,
        "epochs": args.epochs,
        "seed": args.seed,
    }
    print("RESULT " + json.dumps(summary | {"results": results}))


if __name__ == "__main__":
    main()
