"""PNG plots of a sweep, drawn to be put in a paper.

- ``hits_at_1_DATASET.png``: test hits@1 of the best run of each cell, one panel per backbone,
  on a fixed 0–100 % axis with a dashed chance line (1 of 20) and a dotted no-persona line;
  each bar is labelled with its value, ★ where the paired t-test against no persona says
  p < 0.05, the best fusion of each persona in bold; error bars (std over seeds) only where
  a cell has more than one run; a cell without runs is marked "no run", never drawn as 0.
- ``validation_curves_DATASET.png``: validation hits@1 over training steps of each cell's
  best run, from its CSV log: one panel per backbone, colour = fusion, line style and marker
  = persona, legend outside the data.

The ``*_figure`` functions return the matplotlib figure (tests read its data); ``plot_*``
write the PNG.
"""

from __future__ import annotations

import csv
from pathlib import Path

from personafuse.report.collect import Cell, CellKey
from personafuse.report.tables import FUSIONS_ORDER, MODELS

__all__ = ["curves_figure", "hits_figure", "plot_hits", "plot_validation_curves"]

CHANCE = 100 / 20  # hits@1 of a random ranking of 20 candidates, in %
PERSONA_STYLE = {  # colour for bars, line style and marker for curves
    "none": ("0.35", ":", "s"),
    "self": ("tab:blue", "-", "o"),
    "partner": ("tab:orange", "--", "^"),
    "both": ("tab:green", "-.", "D"),
}
FUSION_COLOUR = {
    None: "0.3",
    "na": "tab:blue",
    "ca": "tab:orange",
    "ra": "tab:green",
    "cra": "tab:red",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    return plt


def _chosen(cells: dict[CellKey, Cell], dataset: str) -> dict[tuple, Cell]:
    """Table 3/4 cells: original personas, with a context, BERT-CRA with its subtype."""
    return {
        (k.model, k.fusion, k.persona): c
        for k, c in cells.items()
        if k.dataset == dataset
        and k.model in MODELS  # the rankers (Table 7's generator has its own table)
        and k.version == "original"
        and not k.persona_as_context
        and k.subtype in (None, True)
    }


def hits_figure(cells: dict[CellKey, Cell], dataset: str):
    """The hits@1 figure, or None when the dataset has no such cell."""
    chosen = _chosen(cells, dataset)
    if not chosen:
        return None
    plt = _pyplot()
    models = [m for m in MODELS if any(key[0] == m for key in chosen)]
    fusions = [f for f in FUSIONS_ORDER if any(key[1] == f for key in chosen)]
    personas = [p for p in ("self", "partner", "both") if any(key[2] == p for key in chosen)]
    groups = [None, *fusions]  # x positions: the no-persona model, then each fusion
    width = 0.8 / max(1, len(personas))
    figure, axes = plt.subplots(
        1, len(models), sharey=True, squeeze=False, figsize=(1.2 + 2.6 * len(models), 4.2)
    )
    for axis, model in zip(axes[0], models, strict=True):
        axis.set_ylim(0, 100)
        axis.axhline(CHANCE, color="0.5", linestyle="--", linewidth=1, label="chance (1 of 20)")
        baseline = chosen.get((model, None, "none"))
        if baseline is not None:
            axis.axhline(
                100 * baseline.value("hits@1"), color="0.2", linestyle=":", label="no persona"
            )
        for position, fusion in enumerate(groups):
            slots = ["none"] if fusion is None else personas
            for index, persona in enumerate(slots):
                offset = 0.0 if fusion is None else (index - (len(slots) - 1) / 2) * width
                best = max(
                    (c.value("hits@1") for k, c in chosen.items() if k[0] == model
                     and k[2] == persona),
                    default=None,
                )  # fmt: skip
                _bar(axis, position + offset, width, chosen.get((model, fusion, persona)),
                     persona, best)  # fmt: skip
        axis.set_xticks(range(len(groups)), ["none", *(f.upper() for f in fusions)])
        axis.set_title(model.upper())
        axis.set_xlabel("fusion")
        axis.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_ylabel("test hits@1 (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for persona in personas:
        handles.append(plt.Rectangle((0, 0), 1, 1, color=PERSONA_STYLE[persona][0]))
        labels.append(f"{persona} persona")
    figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.suptitle(
        f"{dataset}: test hits@1, best of N by validation\n(error bar: std over seeds where "
        "n > 1; ★ p < 0.05 vs. no persona; bold: best per persona)",
        fontsize="small",
    )
    figure.tight_layout()
    return figure


def _bar(axis, x: float, width: float, cell: Cell | None, persona: str, best) -> None:
    if cell is None:
        axis.text(x, 1, "no run", rotation=90, ha="center", va="bottom", fontsize=7, color="0.4",
                  bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})  # fmt: skip
        return
    height = 100 * cell.value("hits@1")
    error = 100 * cell.mean_std("hits@1")[1] if len(cell.runs) > 1 else None
    axis.bar(x, height, width * 0.95, color=PERSONA_STYLE[persona][0], yerr=error, capsize=2)
    label = f"{height:.1f}" + ("★" if cell.star("hits@1") else "")
    bold = best is not None and cell.value("hits@1") == best
    axis.text(
        x,
        height + (error or 0) + 1.5,
        label,
        rotation=90,
        ha="center",
        va="bottom",
        fontsize=7,
        fontweight="bold" if bold else "normal",
    )


def validation_curve(run_dir: Path, metric: str = "val/hits@1") -> tuple[list[int], list[float]]:
    """``metric`` in % at each logged step of a run's training, from its CSV log. A step
    logged twice keeps its first value: after the fit, the best checkpoint's evaluation is
    logged again at the final step."""
    points: dict[int, float] = {}
    for log in sorted(run_dir.glob("csv/version_*/metrics.csv")):
        with log.open() as handle:
            for row in csv.DictReader(handle):
                if row.get(metric):
                    points.setdefault(int(row["step"]), 100 * float(row[metric]))
    steps = sorted(points)
    return steps, [points[step] for step in steps]


def curves_figure(cells: dict[CellKey, Cell], dataset: str):
    """The validation-curve figure, or None when no run of the dataset has a CSV log."""
    plt = _pyplot()
    curves = {}
    for key, cell in cells.items():
        if key.dataset == dataset:
            steps, values = validation_curve(cell.best.directory)
            if steps:
                curves[key] = (steps, values)
    if not curves:
        return None
    models = [m for m in MODELS if any(k.model == m for k in curves)]
    models += sorted({k.model for k in curves} - set(models))
    figure, axes = plt.subplots(
        1, len(models), sharey=True, squeeze=False, figsize=(1.5 + 4.0 * len(models), 4.2)
    )
    for axis, model in zip(axes[0], models, strict=True):
        axis.set_ylim(0, 100)
        axis.axhline(CHANCE, color="0.5", linestyle="--", linewidth=1, label="chance (1 of 20)")
        order = (None, *FUSIONS_ORDER)
        for key, (steps, values) in sorted(
            curves.items(),
            key=lambda item: (
                order.index(item[0].fusion) if item[0].fusion in order else len(order),
                list(PERSONA_STYLE).index(item[0].persona)
                if item[0].persona in PERSONA_STYLE else len(PERSONA_STYLE),
                item[0],
            ),
        ):  # fmt: skip
            if key.model != model:
                continue
            _, linestyle, marker = PERSONA_STYLE.get(key.persona, ("k", "-", "x"))
            label = f"{key.fusion.upper()}, {key.persona}" if key.fusion else "no persona"
            label = key.persona if key.persona_as_context else label
            label += " as context" if key.persona_as_context else ""
            label += f", {key.version}" if key.version != "original" else ""
            label += ", −subtype" if key.subtype is False else ""
            axis.plot(
                steps,
                values,
                color=FUSION_COLOUR.get(key.fusion, "k"),
                linestyle=linestyle,
                marker=marker,
                markersize=4,
                label=label,
            )
        axis.set_title(model.upper())
        axis.set_xlabel("training step")
        axis.spines[["top", "right"]].set_visible(False)
        axis.legend(
            loc="upper left", bbox_to_anchor=(0.0, -0.18), fontsize="x-small", frameon=False,
            ncol=2,
        )  # fmt: skip
    axes[0][0].set_ylabel("validation hits@1 (%)")
    figure.suptitle(
        f"{dataset}: validation hits@1 during training, best run of each cell", fontsize="small"
    )
    figure.tight_layout()
    return figure


def _save(figure, path: Path) -> bool:
    if figure is None:
        return False
    figure.savefig(path, dpi=130, bbox_inches="tight")
    _pyplot().close(figure)
    return True


def plot_hits(cells: dict[CellKey, Cell], dataset: str, path: Path) -> bool:
    """Write ``hits_figure`` to ``path``; False when there is nothing to draw."""
    return _save(hits_figure(cells, dataset), path)


def plot_validation_curves(cells: dict[CellKey, Cell], dataset: str, path: Path) -> bool:
    """Write ``curves_figure`` to ``path``; False when no run has a CSV log."""
    return _save(curves_figure(cells, dataset), path)
