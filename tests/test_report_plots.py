"""The report's plots and Table 6, tested on the data they draw: axes, chance line, marks,
error bars only where n > 1, missing cells shown as missing, curves as lines per run."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.container import ErrorbarContainer

from personafuse.report.collect import collect_cells, find_runs
from personafuse.report.plots import CHANCE, curves_figure, hits_figure, validation_curve
from personafuse.report.tables import paper_tables

from .test_experiments import _fake_run

DATASET = "SyntheticPersonaChat"


def _log(run_dir, points: list[tuple[int, float]], final: float | None = None) -> None:
    """A CSVLogger metrics.csv: training-loss rows, validation rows, and (as ``train``
    writes it) the best checkpoint's evaluation logged again at the last step."""
    log = run_dir / "csv" / "version_0" / "metrics.csv"
    log.parent.mkdir(parents=True)
    rows = ["epoch,step,train/loss,val/hits@1"]
    for step, value in points:
        rows += [f"0,{step},2.9,", f"0,{step},,{value}"]
    if final is not None:
        rows.append(f"0,{points[-1][0]},,{final}")
    log.write_text("\n".join(rows) + "\n")


@pytest.fixture
def sweep(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "sweep"
    base = rng.integers(2, 21, 100).tolist()
    strong = [1] * 60 + rng.integers(2, 21, 40).tolist()
    _fake_run(root, "hre-none", base, model="hre", persona="none")
    for seed in (0, 1):  # two seeds: the only cell with an error bar
        _fake_run(
            root,
            f"hre-ra-self-{seed}",
            strong if seed == 0 else base,
            model="hre",
            fusion="ra",
            persona="self",
            seed=seed,
            **{"val/hits@1": 0.6 - seed / 10},
        )
    _fake_run(root, "hre-na-self", base, model="hre", fusion="na", persona="self")
    _fake_run(root, "hre-ra-partner", base, model="hre", fusion="ra", persona="partner")
    _fake_run(root, "imn-ra-self", strong, model="imn", fusion="ra", persona="self")
    _log(root / "hre-ra-self-0", [(99, 0.2), (199, 0.4), (299, 0.6)], final=0.6)
    _log(root / "hre-none", [(99, 0.05), (199, 0.06), (299, 0.07)])
    _log(root / "imn-ra-self", [(99, 0.3), (199, 0.5)])
    return collect_cells(find_runs([root]))


def test_hits_plot_has_a_fixed_axis_chance_line_and_marks(sweep):
    figure = hits_figure(sweep, DATASET)
    hre, imn = figure.axes
    assert [axis.get_title() for axis in figure.axes] == ["HRE", "IMN"]
    for axis in figure.axes:
        assert axis.get_ylim() == (0, 100)
        dashed = [line for line in axis.lines if line.get_linestyle() == "--"]
        assert [line.get_ydata()[0] for line in dashed] == [CHANCE]
    # the no-persona line where the backbone has that run
    assert [line.get_ydata()[0] for line in hre.lines if line.get_linestyle() == ":"] == [
        pytest.approx(0.0)
    ]
    # error bars: only the two-seed cell
    assert sum(isinstance(c, ErrorbarContainer) for c in hre.containers) == 1
    assert not any(isinstance(c, ErrorbarContainer) for c in imn.containers)
    texts = {text.get_text(): text for text in hre.texts}
    assert "60.0★" in texts and texts["60.0★"].get_fontweight() == "bold"
    # missing cells say so instead of looking like a zero bar: HRE has no NA-partner run;
    # IMN has only RA-self (no baseline, NA-self, NA-partner, RA-partner)
    assert sum(t.get_text() == "no run" for t in hre.texts) == 1
    assert sum(t.get_text() == "no run" for t in imn.texts) == 4
    bars = [patch for patch in hre.patches if patch.get_height() > 0]
    assert len(bars) == 1  # only RA-self is above 0 among HRE's cells
    legend = figure.legends[0]
    assert legend.get_bbox_to_anchor().x0 >= figure.bbox.x1 - 1  # outside the panels
    assert {t.get_text() for t in legend.get_texts()} >= {"chance (1 of 20)", "self persona"}


def test_validation_curve_keeps_the_first_value_of_a_step(sweep, tmp_path):
    steps, values = validation_curve(tmp_path / "sweep" / "hre-ra-self-0")
    assert steps == [99, 199, 299] and values == pytest.approx([20.0, 40.0, 60.0])


def test_curves_are_lines_per_run_with_distinct_styles_and_an_outside_legend(sweep):
    figure = curves_figure(sweep, DATASET)
    hre, imn = figure.axes

    def curves_of(axis):
        return [line for line in axis.lines if line.get_label() != "chance (1 of 20)"]

    curves = curves_of(hre)
    assert len(curves) == 2 and all(len(line.get_xdata()) == 3 for line in curves)
    styles = {
        (to_hex(line.get_color()), line.get_linestyle(), line.get_marker()) for line in curves
    }
    assert len(styles) == 2
    assert [len(line.get_xdata()) for line in curves_of(imn)] == [2]
    for axis in figure.axes:
        assert axis.get_ylim() == (0, 100)
        legend = axis.get_legend()
        assert legend.get_bbox_to_anchor().y1 < axis.bbox.y0  # below the data, not over it


def test_nothing_to_draw_gives_no_figure(sweep):
    assert hits_figure(sweep, "PersonaChatFiles") is None
    assert curves_figure(sweep, "PersonaChatFiles") is None


def test_speed_table_gives_the_spread_and_marks_other_devices_and_loads(tmp_path):
    root = tmp_path / "sweep"
    ranks = list(range(1, 21)) * 5
    for seed, speed in ((0, 100.0), (1, 120.0), (2, 110.0)):
        _fake_run(
            root,
            f"hre-{seed}",
            ranks,
            model="hre",
            persona="none",
            seed=seed,
            **{"val/contexts_per_s": speed, "val/cpu_share": 0.95, "device": "cpu"},
        )
    _fake_run(
        root,
        "imn",
        ranks,
        model="imn",
        persona="none",
        device="cuda",
        device_name="NVIDIA H100",
        **{"val/contexts_per_s": 900.0},
    )
    for seed, share in ((0, 0.95), (1, 0.45)):
        _fake_run(
            root,
            f"hre-ra-{seed}",
            ranks,
            model="hre",
            fusion="ra",
            persona="self",
            seed=seed,
            device="cpu",
            **{"val/cpu_share": share},
        )
    speed = paper_tables(collect_cells(find_runs([root])), DATASET)[-1]
    rows = {row[0]: row for row in speed.rows}
    assert rows["HRE"][1] == "110.0 (100.0–120.0, n=3)"
    assert rows["IMN"][1] == "900.0†" and rows["IMN"][3] == "NVIDIA H100"
    assert rows["HRE-RA"][1].endswith("‡")  # one of its runs shared the CPU
    assert rows["HRE-NA"][1] == "–"
    markdown = speed.markdown()
    assert "†: measured on another device than the rest (test-cpu)" in markdown
    assert "‡: other work shared the machine" in markdown
    assert r"\par\footnotesize" in speed.latex()
