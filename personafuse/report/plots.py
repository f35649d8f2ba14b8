"""PNG plots of a sweep: hits@1 by backbone × fusion × persona, and validation curves."""

from __future__ import annotations

import csv
from pathlib import Path

from personafuse.report.collect import Cell, CellKey
from personafuse.report.tables import FUSIONS_ORDER, MODELS

__all__ = ["plot_hits", "plot_validation_curves"]

PERSONAS = ("none", "self", "partner", "both")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_hits(cells: dict[CellKey, Cell], dataset: str, path: Path) -> bool:
    """Grouped bars of test hits@1 (best of N, std over seeds as error bars); False if empty."""
    plt = _pyplot()
    chosen = {
        (k.model, k.fusion, k.persona): c
        for k, c in cells.items()
        if k.dataset == dataset
        and k.version == "original"
        and not k.persona_as_context
        and k.subtype in (None, True)
    }
    if not chosen:
        return False
    groups = [
        (model, fusion)
        for model in MODELS
        for fusion in (None, *FUSIONS_ORDER)
        if any(key[:2] == (model, fusion) for key in chosen)
    ]
    personas = [p for p in PERSONAS if any(key[2] == p for key in chosen)]
    width = 0.8 / len(personas)
    figure, axes = plt.subplots(figsize=(max(6, 0.9 * len(groups) + 2), 4))
    for index, persona in enumerate(personas):
        xs, heights, errors = [], [], []
        for position, (model, fusion) in enumerate(groups):
            cell = chosen.get((model, fusion, persona))
            if cell is not None:
                xs.append(position + (index - (len(personas) - 1) / 2) * width)
                heights.append(100 * cell.value("hits@1"))
                errors.append(100 * cell.mean_std("hits@1")[1])
        axes.bar(xs, heights, width, yerr=errors, label=persona, capsize=2)
    labels = [m.upper() + (f"-{f.upper()}" if f else "") for m, f in groups]
    axes.set_xticks(range(len(groups)), labels, rotation=45, ha="right")
    axes.set_ylabel("test hits@1 (%)")
    axes.set_title(f"hits@1 by backbone × fusion × persona ({dataset})")
    axes.legend(title="persona")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def _curve(run_dir: Path, metric: str) -> tuple[list[int], list[float]]:
    steps, values = [], []
    for log in sorted(run_dir.glob("csv/version_*/metrics.csv")):
        with log.open() as handle:
            for row in csv.DictReader(handle):
                if row.get(metric):
                    steps.append(int(row["step"]))
                    values.append(100 * float(row[metric]))
    return steps, values


def plot_validation_curves(cells: dict[CellKey, Cell], dataset: str, path: Path) -> bool:
    """Validation hits@1 over training steps of each cell's best run; False if no logs."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 4.5))
    drawn = 0
    for key, cell in cells.items():
        if key.dataset != dataset:
            continue
        steps, values = _curve(cell.best.directory, "val/hits@1")
        if steps:
            label = f"{key.model}-{key.fusion or 'none'}-{key.persona}"
            label += " (persona only)" if key.persona_as_context else ""
            label += f" {key.version}" if key.version != "original" else ""
            axes.plot(steps, values, marker="o", markersize=3, label=label)
            drawn += 1
    if drawn:
        axes.set_xlabel("training step")
        axes.set_ylabel("validation hits@1 (%)")
        axes.set_title(f"validation curves, best run of each cell ({dataset})")
        axes.legend(fontsize="x-small", ncol=2)
        figure.tight_layout()
        figure.savefig(path, dpi=120)
    plt.close(figure)
    return bool(drawn)
