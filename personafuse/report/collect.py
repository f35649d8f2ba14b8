"""Collect the runs of a sweep into cells (one per configuration), with seeds and ★ marks."""

from __future__ import annotations

import csv
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from personafuse.generation.metrics import GENERATION_METRICS
from personafuse.scoring.predictions import read_predictions
from personafuse.scoring.significance import PairedTest, paired_ttest, ttest_paired_values

__all__ = ["Cell", "CellKey", "Run", "collect_cells", "find_runs"]


@dataclass(frozen=True, order=True)
class CellKey:
    """What a run is, apart from its seed."""

    dataset: str
    version: str
    model: str
    persona: str
    fusion: str | None
    persona_as_context: bool = False
    subtype: bool | None = None

    @property
    def baseline(self) -> CellKey:
        """The no-persona run of the same backbone and data: what ★ compares against."""
        return CellKey(self.dataset, self.version, self.model, "none", None)


@dataclass
class Run:
    directory: Path
    metrics: dict

    @property
    def key(self) -> CellKey:
        m = self.metrics
        return CellKey(
            m["dataset"],
            m["version"],
            m["model"],
            m["persona"],
            m.get("fusion"),
            bool(m.get("persona_as_context", False)),
            m.get("subtype") if m.get("fusion") == "cra" else None,
        )

    @property
    def selection_score(self) -> float:
        """The validation metric the run selected its checkpoint by."""
        return self.metrics[self.metrics.get("monitor", "val/hits@1")]

    @property
    def predictions(self) -> Path:
        return self.directory / "predictions_test.tsv"

    @property
    def generations(self) -> Path:
        return self.directory / "generations_test.tsv"


@dataclass
class Cell:
    """All seeds of one configuration.

    ``best`` is the paper's best-of-N rule; here the run with the highest validation metric
    (the one each run selected its checkpoint by), so the test set never picks the seed.
    """

    key: CellKey
    runs: list[Run]
    tests: dict[str, PairedTest] = field(default_factory=dict)

    @property
    def best(self) -> Run:
        return max(self.runs, key=lambda r: (r.selection_score, -r.metrics["seed"]))

    def value(self, metric: str) -> float:
        return self.best.metrics[f"test/{metric}"]

    def mean_std(self, metric: str) -> tuple[float, float]:
        values = [r.metrics[f"test/{metric}"] for r in self.runs]
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    def star(self, metric: str) -> bool:
        """★: the best run beats the no-persona baseline's best, paired t-test p < 0.05."""
        test = self.tests.get(metric)
        return test is not None and test.improved


def find_runs(directories: list[Path]) -> list[Run]:
    """Every training run (a ``metrics.json`` with test metrics: ranking or generation) under
    the directories."""
    runs = []
    for directory in directories:
        if not Path(directory).is_dir():
            raise FileNotFoundError(f"{directory}: no such directory")
        for path in sorted(Path(directory).rglob("metrics.json")):
            if "evaluate" in path.parts[len(Path(directory).parts) :]:
                continue  # outputs of personafuse.evaluate, not training runs
            try:
                metrics = json.loads(path.read_text())
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: not valid JSON ({err})") from None
            if "model" in metrics and any(key.startswith("test/") for key in metrics):
                runs.append(Run(path.parent, metrics))
    return runs


def find_failures(directories: list[Path]) -> list[tuple[Path, dict]]:
    """Every job a sweep recorded as failed (``failed.json``: its reason and overrides) and
    that has not finished since, under the directories."""
    failures = []
    for directory in directories:
        for path in sorted(Path(directory).rglob("failed.json")):
            if (path.parent / "metrics.json").is_file():
                continue  # it ran again and finished
            try:
                failures.append((path.parent, json.loads(path.read_text())))
            except json.JSONDecodeError:
                failures.append((path.parent, {"reason": "unreadable failed.json"}))
    return failures


def collect_cells(runs: list[Run]) -> dict[CellKey, Cell]:
    """Group runs by configuration and test each persona cell against its baseline."""
    cells: dict[CellKey, Cell] = {}
    for run in runs:
        cells.setdefault(run.key, Cell(run.key, [])).runs.append(run)
    for cell in cells.values():
        baseline = cells.get(cell.key.baseline)
        if cell.key.persona == "none" or baseline is None:
            continue
        if cell.best.generations.is_file() and baseline.best.generations.is_file():
            cell.tests = _generation_tests(cell.best.generations, baseline.best.generations)
            continue
        if not (cell.best.predictions.is_file() and baseline.best.predictions.is_file()):
            continue
        run_results = read_predictions(cell.best.predictions)
        base_results = read_predictions(baseline.best.predictions)
        for metric in ("hits@1", "mrr"):
            cell.tests[metric] = paired_ttest(run_results, base_results, metric)
    return dict(sorted(cells.items()))


def _per_context(path: Path) -> dict[str, dict[int, float]]:
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {
        metric: {int(row["context_id"]): float(row[metric]) for row in rows}
        for metric in GENERATION_METRICS
    }


def _generation_tests(run: Path, baseline: Path) -> dict[str, PairedTest]:
    """Paired t-tests of each response's BLEU, Dist-1, Dist-2 and length, over the contexts
    both runs generated for."""
    ours, theirs = _per_context(run), _per_context(baseline)
    tests = {}
    for metric in GENERATION_METRICS:
        shared = sorted(ours[metric].keys() & theirs[metric].keys())
        if shared:
            tests[metric] = ttest_paired_values(
                metric,
                np.array([ours[metric][c] for c in shared]),
                np.array([theirs[metric][c] for c in shared]),
            )
    return tests
