"""Training-loss curves of configuration variants, side by side, for the first N steps.

Each variant composes the real configs (``experiment=demo``, then ``--base``) plus its
own overrides, builds the network with the same seed, and trains it with the module's own loss
and optimizer (no validation, and no learning-rate schedule: the HRE/IMN decay starts at
step 5000), printing the mean training loss of each window of steps.
It answers "does this setting leave the ln 20 plateau, and when?" without a full run.

    python benchmarks/loss_curve.py [--quick] [--steps 400] [--window 50] \\
        --base model=imn persona=self fusion=ra \\
        --variant sentence:model.backbone.fusion_response=sentence \\
        --variant matched:model.backbone.fusion_response=matched

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings

from hydra.utils import instantiate
from rich.console import Console
from rich.table import Table

from personafuse.config import compose_config
from personafuse.train import build_training

PLATEAU = math.log(20)  # the loss of uniform scores over 20 candidates


def loss_curve(overrides: list[str], steps: int, window: int, seed: int) -> dict:
    """Train ``steps`` steps; return the mean loss per window and the seconds per step."""
    cfg = compose_config(overrides=[*overrides, f"seed={seed}"])
    datamodule, module = build_training(cfg)
    module.train()
    # training_step logs through the trainer; without one Lightning only warns, every step.
    warnings.filterwarnings("ignore", message=".*self.log.*")
    trainable = [p for p in module.parameters() if p.requires_grad]
    optimizer = instantiate(cfg.model.optimizer)(trainable)
    losses: list[float] = []
    start = time.perf_counter()
    while len(losses) < steps:
        for batch in datamodule.train_dataloader():
            loss = module.training_step(batch, len(losses))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    seconds = time.perf_counter() - start
    windows = [losses[i : i + window] for i in range(0, steps, window)]
    return {
        "loss": [round(sum(w) / len(w), 3) for w in windows],
        "s_per_step": round(seconds / steps, 3),
        "last_loss": losses[-1],  # exact, to compare runs bit for bit
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="HRE, 40 steps, small corpus")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base", nargs="*", default=[], help="overrides shared by all variants")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:OVERRIDE[,OVERRIDE...]",
        help="a named variant with its own overrides (repeatable)",
    )
    args = parser.parse_args()
    base = ["experiment=demo", *args.base]
    if args.quick:
        args.steps, args.window = 40, 10
        base += ["dataset.dialogues.train=150", "dataset.dialogues.valid=30"]
        base += ["dataset.dialogues.test=30"]
    variants = dict(v.split(":", 1) for v in args.variant) or {"base": ""}
    results = {}
    for name, overrides in variants.items():
        extra = [o for o in overrides.split(",") if o]
        results[name] = loss_curve(base + extra, args.steps, args.window, args.seed)
        print(name, results[name], flush=True)

    table = Table(
        title=f"training loss per {args.window} steps (ln 20 = 2.996)", caption=" ".join(base)
    )
    table.add_column("steps", justify="right")
    for name in results:
        table.add_column(name, justify="right")
    for index in range(math.ceil(args.steps / args.window)):
        last = min((index + 1) * args.window, args.steps)
        table.add_row(
            f"{index * args.window + 1}–{last}",
            *(f"{r['loss'][index]:.3f}" for r in results.values()),
        )
    table.add_row("s/step", *(f"{r['s_per_step']:.2f}" for r in results.values()))
    Console().print(table)
    summary = {"benchmark": "loss_curve", "quick": args.quick, "base": base, "steps": args.steps}
    summary |= {"plateau": round(PLATEAU, 3), "results": results}
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
