"""Paper tables and plots from a sweep: ``python -m personafuse.report SWEEP_DIR --out DIR``."""

from __future__ import annotations

from personafuse.report.collect import Cell, CellKey, Run, collect_cells, find_runs
from personafuse.report.main import build_report, main
from personafuse.report.tables import Table, paper_tables

__all__ = [
    "Cell",
    "CellKey",
    "Run",
    "Table",
    "build_report",
    "collect_cells",
    "find_runs",
    "main",
    "paper_tables",
]
