"""``python -m personafuse.report SWEEP_DIR [SWEEP_DIR ...] --out DIR``.

Writes ``tables.md`` and ``tables.tex`` (Tables 2–7 per dataset, ★ = paired t-test p < 0.05
against the no-persona model), ``cells.csv`` (every configuration with its seeds, best-of-N and
mean ± std, p-values), and PNG plots: ``hits_at_1_DATASET.png`` and
``validation_curves_DATASET.png``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from personafuse.generation.metrics import GENERATION_METRICS
from personafuse.report.collect import Cell, CellKey, collect_cells, find_failures, find_runs
from personafuse.report.plots import plot_hits, plot_validation_curves
from personafuse.report.tables import paper_tables

__all__ = ["build_report", "main"]


def _write_cells(cells: dict[CellKey, Cell], path: Path) -> None:
    """Every configuration with its seeds, the best run's test values, mean ± std and the
    paired t-test's p of each metric it has (ranking: hits@1, MRR; generation: BLEU, Dist-1,
    Dist-2, length)."""
    metrics = [m for m in ("hits@1", "mrr", *GENERATION_METRICS)
               if any(f"test/{m}" in c.best.metrics for c in cells.values())]  # fmt: skip
    keys = ["dataset", "version", "model", "fusion", "persona", "persona_as_context", "subtype"]
    columns = [*keys, "seeds", "best_seed"]
    for metric in metrics:
        columns += [f"test_{metric}", f"mean_{metric}", f"std_{metric}", f"p_{metric}"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*columns, "best_run"])
        for key, cell in cells.items():
            row = [key.dataset, key.version, key.model, key.fusion or "", key.persona,
                   key.persona_as_context, "" if key.subtype is None else key.subtype,
                   len(cell.runs), cell.best.metrics["seed"]]  # fmt: skip
            for metric in metrics:
                if f"test/{metric}" not in cell.best.metrics:
                    row += ["", "", "", ""]
                    continue
                test = cell.tests.get(metric)
                row += [cell.value(metric), *cell.mean_std(metric),
                        test.p_value if test else ""]  # fmt: skip
            writer.writerow([*row, cell.best.directory])


def build_report(directories: list[Path], out: Path) -> dict:
    """Write tables, cells and plots for every dataset found; returns what was written."""
    runs = find_runs(directories)
    failures = find_failures(directories)
    if not runs and not failures:
        where = ", ".join(map(str, directories))
        raise ValueError(f"no training runs (metrics.json with test metrics) under {where}")
    cells = collect_cells(runs)
    out.mkdir(parents=True, exist_ok=True)
    datasets = sorted({key.dataset for key in cells})
    markdown = [
        "# Paper tables from a sweep",
        "",
        f"{len(runs)} runs in {len(cells)} cells, from: "
        + ", ".join(f"`{d}`" for d in directories),
        "",
        "Numbers are test percentages of the best run of each cell by validation (the paper's "
        "best-of-N); with several seeds, mean ± std and n follow. ★: paired t-test on "
        "per-context values against the no-persona model of the same backbone, p < 0.05, "
        "with an improvement. – : no run (each table lists its missing cells).",
        "",
    ]
    if failures:
        markdown += [f"**{len(failures)} failed job(s)** (re-run their sweep to retry them):", ""]
        markdown += [f"- `{path.name}` ({' '.join(record.get('overrides', []))}): "
                     f"{record.get('reason', '?')}" for path, record in failures]  # fmt: skip
        markdown.append("")
    latex = []
    written: dict[str, list[str]] = {"tables": [], "plots": []}
    for dataset in datasets:
        markdown += [f"## {dataset}", ""]
        for table in paper_tables(cells, dataset):
            markdown.append(table.markdown())
            latex.append(table.latex())
            written["tables"].append(f"{dataset}: {table.title}")
        for name, plot in (("hits_at_1", plot_hits), ("validation_curves", plot_validation_curves)):
            path = out / f"{name}_{dataset}.png"
            if plot(cells, dataset, path):
                markdown.append(f"![{name} ({dataset})]({path.name})\n")
                written["plots"].append(path.name)
    (out / "tables.md").write_text("\n".join(markdown))
    (out / "tables.tex").write_text("\n".join(latex))
    _write_cells(cells, out / "cells.csv")
    written["failed"] = [str(path) for path, _ in failures]
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m personafuse.report",
        description="The paper's Tables 2-7 from finished runs: per cell the best run by "
        "validation (best-of-N, as the paper reports), then mean ± std and n over seeds; "
        "paired t-tests against the no-persona model (the paper's ★), best in bold, as "
        "tables.md, tables.tex, cells.csv and PNG plots.",
        epilog="examples:\n"
        "  python -m personafuse.train --multirun experiment=table4 hydra.sweep.dir=sweeps/t4\n"
        "  python -m personafuse.report sweeps/t4 --out report/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sweeps", nargs="+", type=Path, help="multirun or run directories")
    parser.add_argument("--out", type=Path, required=True, help="directory for the report")
    args = parser.parse_args(argv)
    try:
        written = build_report(args.sweeps, args.out)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    print(
        f"wrote {args.out / 'tables.md'}, tables.tex, cells.csv and "
        f"{len(written['plots'])} plots ({', '.join(written['plots']) or 'none'})"
    )
