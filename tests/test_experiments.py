"""Experiments: predictions files, paired t-tests, the report's tables, evaluate, table configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from personafuse.config import compose_config
from personafuse.data import read_personachat
from personafuse.report import build_report, collect_cells, find_runs
from personafuse.scoring.metrics import ranks
from personafuse.scoring.predictions import ContextResults, read_predictions, write_predictions
from personafuse.scoring.significance import paired_ttest

from .conftest import RAW, TINY_TRAINING, run_train_cli


def test_predictions_roundtrip_with_pessimistic_ties(tmp_path):
    examples = read_personachat(RAW / "valid_self_original.txt")[:4]
    scores = torch.randn(4, 20)
    scores[1] = 0.0  # all tied: the true candidate ranks last
    scores[2, examples[2].label] = scores[2].max() + 1  # clear winner
    path = tmp_path / "predictions.tsv"
    write_predictions(path, examples, scores)
    lines = path.read_text().splitlines()
    assert len(lines) == 80 and all(len(line.split("\t")) == 5 for line in lines)
    results = read_predictions(path)
    labels = torch.tensor([e.label for e in examples])
    assert results.true_ranks.tolist() == ranks(scores, labels).tolist()
    assert results.true_ranks[1] == 20 and results.true_ranks[2] == 1
    first = [line.split("\t") for line in lines[:20]]
    assert sorted(int(f[3]) for f in first) == list(range(1, 21))  # a full ranking per context
    assert {int(f[1]) for f in first} == set(range(20))  # file positions of the candidates


def test_bad_predictions_line_names_file_and_line(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("0\t1\t0.5\t1\t1\n0\t2\t0.1\n")
    with pytest.raises(ValueError, match=r"p\.tsv:2: expected 5 tab-separated columns"):
        read_predictions(path)


def test_paired_ttest_matches_scipy_on_shared_contexts():
    rng = np.random.default_rng(0)
    run = ContextResults(np.arange(100), rng.integers(1, 4, 100))
    baseline = ContextResults(np.arange(10, 110), rng.integers(1, 21, 100))
    test = paired_ttest(run, baseline, "mrr")
    a, b = 1 / run.true_ranks[10:], 1 / baseline.true_ranks[:90]
    assert test.contexts == 90
    assert test.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert test.improved and test.significant
    same = paired_ttest(run, run, "hits@1")
    assert same.p_value == 1.0 and not same.significant
    with pytest.raises(ValueError, match="valid choices: hits@1, mrr"):
        paired_ttest(run, baseline, "ndcg")
    with pytest.raises(ValueError, match="share no context"):
        paired_ttest(run, ContextResults(np.arange(500, 510), np.ones(10, int)), "mrr")


def _fake_run(root: Path, name: str, true_ranks: list[int], **metrics) -> None:
    """A run directory as train writes it: metrics.json and predictions_test.tsv."""
    directory = root / name
    directory.mkdir(parents=True)
    hits = float(np.mean(np.array(true_ranks) == 1))
    base = {
        "dataset": "SyntheticPersonaChat",
        "version": "original",
        "persona_as_context": False,
        "fusion": None,
        "subtype": None,
        "seed": 0,
        "monitor": "val/hits@1",
        "val/hits@1": hits,
        "test/hits@1": hits,
        "test/mrr": float(np.mean(1 / np.array(true_ranks))),
        "val/contexts_per_s": 12.5,
        "val/pairs_per_s": 250.0,
        "device_name": "test-cpu",
    }
    (directory / "metrics.json").write_text(json.dumps(base | metrics))
    lines = []
    for context, rank in enumerate(true_ranks):
        lines += [f"{context}\t{c}\t{-c}\t{c + 1}\t{int(c + 1 == rank)}" for c in range(20)]
    (directory / "predictions_test.tsv").write_text("\n".join(lines) + "\n")


def test_report_builds_paper_tables_with_stars_seeds_and_missing_cells(tmp_path):
    sweep = tmp_path / "sweep"
    rng = np.random.default_rng(1)
    baseline_ranks = rng.integers(2, 21, 200).tolist()
    _fake_run(sweep, "0_hre-none", baseline_ranks, model="hre", persona="none")
    strong = [1] * 150 + rng.integers(2, 21, 50).tolist()
    for seed, val in ((0, 0.9), (1, 0.5)):
        _fake_run(
            sweep,
            f"{seed + 1}_hre-ra-self",
            strong if seed == 0 else baseline_ranks,
            model="hre",
            fusion="ra",
            persona="self",
            seed=seed,
            **{"val/hits@1": val},
        )
    _fake_run(sweep, "9_hre-na-self", baseline_ranks, model="hre", fusion="na", persona="self")
    (sweep / "9_hre-na-self" / "evaluate").mkdir()  # evaluate outputs are not runs
    (sweep / "9_hre-na-self" / "evaluate" / "metrics.json").write_text("{}")

    cells = collect_cells(find_runs([sweep]))
    assert len(cells) == 3
    written = build_report([sweep], tmp_path / "report")
    markdown = (tmp_path / "report" / "tables.md").read_text()
    # Best of N by validation (seed 0), mean ± std over both seeds, ★ against no persona.
    assert "| HRE-RA | 75.0★ (37.5 ± 53.0, n=2) |" in markdown
    assert "| HRE-NA | 0.0 |" in markdown  # identical to the baseline: no ★
    assert "| HRE-CA | – | – | – | – |" in markdown  # never run: shown missing
    assert "| HRE (no persona) | 0.0 |" in markdown
    assert r"75.0$^\star$" in (tmp_path / "report" / "tables.tex").read_text()
    assert "12.5 | 250.0 | test-cpu" in markdown  # Table 6 from the best run's timing
    cells_csv = (tmp_path / "report" / "cells.csv").read_text().splitlines()
    assert len(cells_csv) == 4 and cells_csv[0].startswith("dataset,version,model")
    assert set(written["plots"]) == {"hits_at_1_SyntheticPersonaChat.png"}  # no CSV logs here
    assert (tmp_path / "report" / "hits_at_1_SyntheticPersonaChat.png").stat().st_size > 1000


def test_report_of_an_empty_directory_is_a_clear_error(tmp_path):
    from personafuse.report import main

    with pytest.raises(SystemExit):
        main([str(tmp_path), "--out", str(tmp_path / "out")])


@pytest.mark.parametrize(
    ("experiment", "sweeps"),
    [
        ("table2", 3 * 2 * 4),
        ("table3", 3 * 4),
        ("table4", 3 * 4 * 2 * 4),
        ("table5", 2 * 2 * 2 * 4),
    ],
)
def test_table_experiments_sweep_the_papers_cells_on_real_or_synthetic_data(experiment, sweeps):
    cfg = compose_config(overrides=[f"experiment={experiment}"])
    assert cfg.dataset._target_.endswith("PersonaChatFiles")
    params = cfg.hydra.sweeper.params
    assert np.prod([len(str(v).split(",")) for v in params.values()]) == sweeps
    assert "seed" in params and len(str(params.seed).split(",")) == 4
    demo = compose_config(overrides=[f"experiment={experiment}", "dataset=synthetic"])
    assert demo.dataset._target_.endswith("SyntheticPersonaChat")


def test_sweep_then_evaluate_then_report(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_train_cli(
        [
            "--multirun",
            "persona=none,self",
            "fusion=ra",
            "seed=0,1",
            *TINY_TRAINING,
            "trainer.limit_train_batches=2",
            f"paths.cache_dir={tmp_path}/cache",
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = next(sweep.glob("*_hre-ra-self-seed1"))
    trained = json.loads((run_dir / "metrics.json").read_text())
    assert (run_dir / "predictions_test.tsv").is_file()
    assert trained["val/contexts_per_s"] > 0 and trained["device"] == "cpu"

    from personafuse.evaluate import evaluate

    evaluated = evaluate(run_dir / "checkpoints" / "best.ckpt", [], split="test")
    assert evaluated["test/hits@1"] == pytest.approx(trained["test/hits@1"])
    assert evaluated["test/mrr"] == pytest.approx(trained["test/mrr"])
    again = read_predictions(run_dir / "evaluate" / "test" / "predictions_test.tsv")
    original = read_predictions(run_dir / "predictions_test.tsv")
    assert np.array_equal(again.true_ranks, original.true_ranks)

    build_report([sweep], tmp_path / "report")
    markdown = (tmp_path / "report" / "tables.md").read_text()
    assert "n=2)" in markdown and "| HRE-NA | – |" in markdown
    assert (tmp_path / "report" / "validation_curves_SyntheticPersonaChat.png").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["split=test"], "ckpt_path=PATH is required"),
        (["ckpt_path=/nonexistent/best.ckpt"], "no such file"),
        (["ckpt_path"], "arguments are key=value"),
        (["ckpt_path=x.ckpt", "trainer=ddpp"], "trainer=ddpp: no such choice; valid choices: "),
    ],
)
def test_evaluate_cli_errors_are_one_line(tmp_path, monkeypatch, capsys, arguments, message):
    from personafuse.evaluate import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    stderr = capsys.readouterr().err
    assert exit_.value.code == 1 and message in stderr and stderr.count("\n") == 1


def test_a_bad_command_line_is_refused_before_torch_loads():
    """As a process: one line, status 1, and in a fraction of the 6-7 s that importing torch
    and Lightning takes (the user errors are known by name, not imported)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom personafuse.evaluate import main\ntry:\n    main(['split=test'])\n"
        "except SystemExit as exit_:\n    print(exit_.code, 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["1", "False"], result.stderr
    assert result.stderr == "error: ckpt_path=PATH is required\n"
