"""The paper's table layouts (Tables 2–6) from collected cells, as Markdown and LaTeX.

Numbers are percentages of the best-of-N run (by validation), ★ where the paired t-test
against the no-persona model gives p < 0.05 with an improvement; with several seeds the mean ±
std and n follow. A missing cell is shown as "–", never filled in.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from personafuse.report.collect import Cell, CellKey

__all__ = ["FUSIONS_ORDER", "MODELS", "Table", "paper_tables", "speed_table"]

MODELS = ("hre", "imn", "bert")
FUSIONS_ORDER = ("na", "ca", "ra", "cra")
MISSING = "–"
METRICS = (("hits@1", "hits@1"), ("mrr", "MRR"))


# Table 6 marks: a timing that the machine's other work may have slowed.
SHARED_CPU = 0.8  # a CPU pass whose threads got less than this share of their wall time
SPREAD = 1.5  # fastest / slowest run of a cell


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def missing(self) -> list[str]:
        """Every cell without a run: its row, and its column group (``self`` of ``self
        hits@1`` and ``self MRR``) where columns hold one metric of a group each."""
        found: dict[str, None] = {}
        for row in self.rows:
            for column, value in enumerate(row):
                if column and value.startswith(MISSING):
                    group = (
                        self.header[column].rsplit(" ", 1)[0] if " " in self.header[column] else ""
                    )
                    found[f"{row[0]} / {group}" if group else row[0]] = None
        return list(found)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.header) + " |"]
        lines.append("|" + "---|" * len(self.header))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        lines += ["", *self.notes] if self.notes else []
        if missing := self.missing():
            lines += ["", f"Missing ({len(missing)}): " + ", ".join(missing) + "."]
        return "\n".join(lines) + "\n"

    def latex(self) -> str:
        def tex(text: str) -> str:
            text = text.replace("★", r"$^\star$").replace("±", r"$\pm$").replace("–", "--")
            text = text.replace("_", r"\_").replace("%", r"\%").replace("#", r"\#")
            return re.sub(r"\*\*(.+?)\*\*", r"\\textbf{\1}", text)

        spec = "l" + "r" * (len(self.header) - 1)
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{tex(self.title)}}}",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(tex(h) for h in self.header) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(tex(c) for c in row) + r" \\" for row in self.rows]
        lines += [r"\bottomrule", r"\end{tabular}"]
        lines += [rf"\par\footnotesize {tex(note)}" for note in self.notes]
        lines += [r"\end{table}"]
        return "\n".join(lines) + "\n"


def format_value(cell: Cell | None, metric: str, star: bool = True) -> str:
    if cell is None:
        return MISSING
    text = f"{100 * cell.value(metric):.1f}" + ("★" if star and cell.star(metric) else "")
    if len(cell.runs) > 1:
        mean, std = cell.mean_std(metric)
        text += f" ({100 * mean:.1f} ± {100 * std:.1f}, n={len(cell.runs)})"
    return text


def _name(model: str, fusion: str | None = None) -> str:
    return model.upper() + (f"-{fusion.upper()}" if fusion else "")


def paper_tables(cells: dict[CellKey, Cell], dataset: str) -> list[Table]:
    """Tables 2–6 for one dataset (``PersonaChatFiles`` or ``SyntheticPersonaChat``)."""

    def get(model, persona, fusion=None, version="original", as_context=False, subtype=None):
        if fusion == "cra" and model == "bert" and subtype is None:
            subtype = True
        key = CellKey(dataset, version, model, persona, fusion, as_context, subtype)
        return cells.get(key)

    models = [m for m in MODELS if any(k.model == m for k in cells)] or list(MODELS)
    if not any(k.model in MODELS for k in cells):  # a generation-only sweep: Table 7 alone
        return [generation_table(cells, dataset)]
    metric_headers = [label for _, label in METRICS]
    tables = []

    header = ["model"] + [f"{p} {m}" for p in ("self", "partner") for m in metric_headers]
    rows = [
        [_name(model)]
        + [
            format_value(get(model, persona, as_context=True), metric, star=False)
            for persona in ("self", "partner")
            for metric, _ in METRICS
        ]
        for model in models
    ]
    tables.append(Table("Table 2: persona–response matching (no context)", header, rows))

    rows = [
        [_name(model)] + [format_value(get(model, "none"), m, star=False) for m, _ in METRICS]
        for model in models
    ]
    tables.append(Table("Table 3: no persona", ["model", *metric_headers], rows))

    rows = []
    for model in models:
        rows.append(
            [f"{_name(model)} (no persona)"]
            + [format_value(get(model, "none"), m, star=False) for m, _ in METRICS] * 2
        )
        for fusion in FUSIONS_ORDER:
            rows.append(
                [_name(model, fusion)]
                + [
                    format_value(get(model, persona, fusion), metric)
                    for persona in ("self", "partner")
                    for metric, _ in METRICS
                ]
            )
    tables.append(Table("Table 4: fusion strategies, original personas", header, rows))

    settings = [(p, v) for p in ("self", "partner") for v in ("original", "revised")]
    header5 = ["model"] + [f"{p} {v} {m}" for p, v in settings for m in metric_headers]
    rows = [
        [label]
        + [
            format_value(get("bert", p, "cra", v, subtype=subtype), metric)
            for p, v in settings
            for metric, _ in METRICS
        ]
        for label, subtype in (("BERT-CRA", True), ("BERT-CRA − subtype", False))
    ]
    tables.append(Table("Table 5: BERT-CRA, original and revised personas", header5, rows))

    if any(k.model == "unilm" and k.dataset == dataset for k in cells):
        tables.append(generation_table(cells, dataset))
    speed_cells = [
        (_name(model, fusion), get(model, "none" if fusion is None else "self", fusion))
        for model in models
        for fusion in (None, *FUSIONS_ORDER)
    ]
    tables.append(speed_table(speed_cells))
    return tables


def _timings(cell: Cell) -> list[dict]:
    """The timed validation passes of a cell's runs (runs before speed was recorded have
    none)."""
    return [r.metrics for r in cell.runs if "val/contexts_per_s" in r.metrics]


def _device(metrics: dict) -> str:
    return str(metrics.get("device_name") or metrics.get("device") or MISSING)


def speed_table(cells: list[tuple[str, Cell | None]]) -> Table:
    """Table 6: validation contexts/s and pairs/s per model, the median over the cell's runs
    (every seed times its own pass) with the range and n; a cell whose runs ran on a device
    other than the table's usual one is marked †, one whose timings may be slowed by other
    work (a CPU pass that got less than ``SHARED_CPU`` of its threads' time, or runs more than
    ``SPREAD`` times apart) is marked ‡."""
    timed = {name: _timings(cell) for name, cell in cells if cell is not None}
    devices = Counter(_device(m) for runs in timed.values() for m in runs)
    usual = devices.most_common(1)[0][0] if devices else None
    rows, marked = [], set()
    for name, _ in cells:
        runs = timed.get(name) or []
        if not runs:
            rows.append([name, MISSING, MISSING, MISSING])
            continue
        contexts = [m["val/contexts_per_s"] for m in runs]
        pairs = [m["val/pairs_per_s"] for m in runs]
        marks = ""
        if any(_device(m) != usual for m in runs):
            marks += "†"
        shared = any(
            m.get("device") == "cpu" and m.get("val/cpu_share", 1.0) < SHARED_CPU for m in runs
        )
        if shared or max(contexts) > SPREAD * min(contexts):
            marks += "‡"
        marked |= set(marks)

        def spread(values: list[float]) -> str:
            text = f"{statistics.median(values):.1f}"
            if len(values) > 1:
                text += f" ({min(values):.1f}–{max(values):.1f}, n={len(values)})"
            return text

        device = ", ".join(sorted({_device(m) for m in runs}))
        rows.append([name, spread(contexts) + marks, spread(pairs), device])
    notes = ["Median over the runs of each cell (range, n: each seed timed its own pass)."]
    if "†" in marked:
        notes.append(f"†: measured on another device than the rest ({usual}); not comparable.")
    if "‡" in marked:
        notes.append(
            f"‡: other work shared the machine (a CPU pass got < {SHARED_CPU:.0%} of its "
            f"threads' time) or the runs differ more than {SPREAD}×; re-time it alone "
            "(benchmarks/)."
        )
    return Table(
        "Table 6: validation speed (self persona; a case = a context with its candidates)",
        ["model", "contexts/s", "pairs/s", "device"],
        rows,
        notes,
    )


# Table 7 of the paper: BLEU, Dist-1, Dist-2, length (MiniLM-L12 on Persona-Chat, original).
PAPER_TABLE7 = {
    "none": ("3.54", "94.47", "99.49", "8.73"),
    "self": ("4.50★", "94.94★", "99.59", "8.59"),
    "partner": ("3.65★", "93.80★", "99.48", "9.05★"),
}
GENERATION_COLUMNS = (("bleu", "BLEU"), ("dist1", "Dist-1"), ("dist2", "Dist-2"),
                      ("length", "length"))  # fmt: skip


def generation_table(cells: dict[CellKey, Cell], dataset: str) -> Table:
    """Table 7: the generator with no, self and partner persona (CA), original personas.

    Values are the best run's (by validation) test averages: BLEU, Dist-1, Dist-2 in %,
    length in words; with several seeds, mean ± std and n follow. ★: the paired t-test of
    per-response values against the no-persona model gives p < 0.05 (a gain or a loss, as
    in the paper); bold: the best of the three (length has no best). The paper's rows follow.
    """
    rows_of = {
        persona: cells.get(
            CellKey(dataset, "original", "unilm", persona, None if persona == "none" else "ca")
        )
        for persona in ("none", "self", "partner")
    }
    best = {
        metric: max((c.value(metric) for c in rows_of.values() if c), default=None)
        for metric, _ in GENERATION_COLUMNS[:3]
    }
    labels = {"none": "MiniLM", "self": "MiniLM-CA-Self", "partner": "MiniLM-CA-Partner"}
    rows = []
    for persona, cell in rows_of.items():
        row = [labels[persona]]
        for metric, _ in GENERATION_COLUMNS:
            if cell is None:
                row.append(MISSING)
                continue
            test = cell.tests.get(metric)
            text = f"{cell.value(metric):.2f}" + ("★" if test and test.significant else "")
            if best.get(metric) is not None and cell.value(metric) == best[metric]:
                text = f"**{text}**"
            if len(cell.runs) > 1:
                mean, std = cell.mean_std(metric)
                text += f" ({mean:.2f} ± {std:.2f}, n={len(cell.runs)})"
            row.append(text)
        rows.append(row)
    rows += [[f"{labels[p]} (paper)", *PAPER_TABLE7[p]] for p in ("none", "self", "partner")]
    return Table(
        "Table 7: response generation, original personas (CA; the paper's numbers below)",
        ["model", *(label for _, label in GENERATION_COLUMNS)],
        rows,
        ["The paper's rows: MiniLM-L12 on Persona-Chat (Gu et al., 2021, Table 7)."],
    )
