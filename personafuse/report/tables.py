"""The paper's table layouts (Tables 2–6) from collected cells, as Markdown and LaTeX.

Numbers are percentages of the best-of-N run (by validation), ★ where the paired t-test
against the no-persona model gives p < 0.05 with an improvement; with several seeds the mean ±
std and n follow. A missing cell is shown as "–", never filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

from personafuse.report.collect import Cell, CellKey

__all__ = ["FUSIONS_ORDER", "MODELS", "Table", "paper_tables"]

MODELS = ("hre", "imn", "bert")
FUSIONS_ORDER = ("na", "ca", "ra", "cra")
MISSING = "–"
METRICS = (("hits@1", "hits@1"), ("mrr", "MRR"))


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.header) + " |"]
        lines.append("|" + "---|" * len(self.header))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def latex(self) -> str:
        def tex(text: str) -> str:
            text = text.replace("★", r"$^\star$").replace("±", r"$\pm$").replace("–", "--")
            return text.replace("_", r"\_").replace("%", r"\%").replace("#", r"\#")

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
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
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

    rows = []
    for model in models:
        for fusion in (None, *FUSIONS_ORDER):
            cell = get(model, "none" if fusion is None else "self", fusion)
            if cell is None:
                rows.append([_name(model, fusion), MISSING, MISSING, MISSING])
                continue
            m = cell.best.metrics
            timed = "val/contexts_per_s" in m  # runs before speed was recorded have none
            rows.append(
                [
                    _name(model, fusion),
                    f"{m['val/contexts_per_s']:.1f}" if timed else MISSING,
                    f"{m['val/pairs_per_s']:.1f}" if timed else MISSING,
                    str(m.get("device_name") or m.get("device", MISSING)) if timed else MISSING,
                ]
            )
    tables.append(
        Table(
            "Table 6: validation speed (self persona; a case = a context with its candidates)",
            ["model", "contexts/s", "pairs/s", "device"],
            rows,
        )
    )
    return tables
