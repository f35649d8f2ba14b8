"""What same-seed-same-result costs: training speed with deterministic algorithms on and off.

``trainer.deterministic: true`` (the default) makes Lightning call
``torch.use_deterministic_algorithms(True)``. This script trains the demo settings
(conf/experiment/demo.yaml) for the same steps from the same seed with the flag on and off,
alternating, and reports seconds per step and whether repeated runs end on the bit-identical
loss.

    python benchmarks/determinism.py [--quick] [--models hre,imn] [--steps 60] [--repeats 2]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch
from loss_curve import loss_curve
from rich.console import Console
from rich.table import Table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="HRE only, 30 steps (< 60 s)")
    parser.add_argument("--models", default="hre,imn")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    models = ["hre"] if args.quick else args.models.split(",")
    steps = 30 if args.quick else args.steps
    results = {}
    for model in models:
        overrides = ["experiment=demo", f"model={model}", "trainer.enable_progress_bar=false"]
        runs: dict[bool, list[dict]] = {True: [], False: []}
        for _ in range(args.repeats):
            for deterministic in (True, False):  # alternate: drift hits both alike
                torch.use_deterministic_algorithms(deterministic)
                runs[deterministic].append(loss_curve(overrides, steps, steps, seed=0))
        torch.use_deterministic_algorithms(False)
        on = [r["s_per_step"] for r in runs[True]]
        off = [r["s_per_step"] for r in runs[False]]
        results[model] = {
            "s_per_step_deterministic": statistics.median(on),
            "s_per_step_default_kernels": statistics.median(off),
            "cost": round(statistics.median(on) / statistics.median(off), 3),
            "deterministic_runs_identical": len({r["last_loss"] for r in runs[True]}) == 1,
            "default_runs_identical": len({r["last_loss"] for r in runs[False]}) == 1,
        }
    table = Table(
        title=f"deterministic algorithms on vs off, {steps} training steps, demo settings"
    )
    for column in (
        "model",
        "s/step on",
        "s/step off",
        "on / off",
        "on: identical",
        "off: identical",
    ):
        table.add_column(column, justify="right")
    for model, r in results.items():
        table.add_row(
            model,
            f"{r['s_per_step_deterministic']:.3f}",
            f"{r['s_per_step_default_kernels']:.3f}",
            f"{r['cost']:.2f}×",
            str(r["deterministic_runs_identical"]),
            str(r["default_runs_identical"]),
        )
    Console().print(table)
    summary = {"benchmark": "determinism", "quick": args.quick, "steps": steps}
    summary |= {"threads": torch.get_num_threads(), "repeats": args.repeats}
    print("RESULT " + json.dumps(summary | {"results": results}))


if __name__ == "__main__":
    main()
