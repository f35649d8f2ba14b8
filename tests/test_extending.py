"""docs/extending.md stays honest: its worked examples, extracted from the page, train as they
are for every backbone, with nothing else in the library touched."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from personafuse.backbones import BACKBONES
from personafuse.config import compose_config
from personafuse.train import train

from .conftest import TINY_TRAINING, run_train_cli, tiny_bert_training

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
PLUGIN = "my_extensions"


def documented_files(root: Path) -> list[Path]:
    """Write every fenced block of the page that starts with ``# file: PATH`` under ``root``."""
    written = []
    for block in re.findall(r"```(?:python|yaml)\n(.*?)```", DOC.read_text(), re.S):
        first, _, body = block.partition("\n")
        if first.startswith("# file: "):
            path = root / first.removeprefix("# file: ").strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
            written.append(path.relative_to(root))
    return written


@pytest.fixture
def extensions(tmp_path, monkeypatch):
    """The page's files in a temporary folder, importable; registries restored afterwards."""
    from personafuse.fusion import FUSIONS

    root = tmp_path / "extensions"
    files = documented_files(root)
    assert sorted(map(str, files)) == [
        "my_conf/fusion/mean.yaml",
        "my_conf/model/bow.yaml",
        "my_extensions/__init__.py",
        "my_extensions/bow.py",
        "my_extensions/mean.py",
    ]
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(FUSIONS, "_entries", dict(FUSIONS._entries))
    monkeypatch.setattr(BACKBONES, "_entries", dict(BACKBONES._entries))
    yield root
    for name in [m for m in sys.modules if m == PLUGIN or m.startswith(f"{PLUGIN}.")]:
        del sys.modules[name]


def _train(tmp_path: Path, root: Path, overrides: list[str], run: str = "run") -> dict:
    cfg = compose_config(
        overrides=[
            f"paths.cache_dir={tmp_path}/cache",
            f"plugins=[{PLUGIN}]",
            f"hydra.searchpath=[file://{root}/my_conf]",
            "trainer.fast_dev_run=true",
            *overrides,
        ]
    )
    cfg.paths.output_dir = str(tmp_path / run)
    return train(cfg)


RANKERS = [name for name in BACKBONES.names() if BACKBONES.get(name).task == "ranking"]


@pytest.mark.parametrize("model", RANKERS)
def test_documented_mean_fusion_trains_with_every_ranking_backbone(
    tmp_path, extensions, model, tiny_bert
):
    # Seconds-long settings: BERT's own (a tiny random checkpoint), HRE's for the others.
    overrides = tiny_bert_training(tiny_bert) if model == "bert" else [*TINY_TRAINING]
    metrics = _train(tmp_path, extensions, [*overrides, f"model={model}", "fusion=mean"])
    assert metrics["fusion"] == "mean" and metrics["model"] == model
    assert metrics["steps"] == 1  # fast_dev_run: one optimiser step through the new strategy


def test_documented_mean_fusion_is_the_uniform_average(extensions):
    import torch

    from personafuse.fusion import FUSIONS
    from personafuse.registry import import_plugins

    import_plugins([PLUGIN])
    mean = FUSIONS.get("mean")(4)
    profiles = torch.randn(2, 3, 4)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    responses = torch.randn(2, 5, 4)
    out = mean(None, responses, profiles, mask)
    torch.testing.assert_close(out[0, 2], profiles[0, :2].mean(0))
    torch.testing.assert_close(out[1, 4], profiles[1, 0])


def test_documented_backbone_trains_with_a_paper_and_the_new_fusion(tmp_path, extensions):
    for fusion in ("cra", "mean"):
        metrics = _train(
            tmp_path,
            extensions,
            [*TINY_TRAINING, "model=bow", f"fusion={fusion}", "persona=both"],
            run=f"run-{fusion}",
        )
        assert metrics["model"] == "bow" and metrics["fusion"] == fusion


def test_documented_command_line_runs_and_evaluates(tmp_path, extensions):
    """The page's command form: plugins and a Hydra search path, then evaluate the run."""
    args = [
        *TINY_TRAINING,
        "model=bow",
        "fusion=mean",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        f"plugins=[{PLUGIN}]",
        f"hydra.searchpath=[file://{extensions}/my_conf]",
        f"paths.cache_dir={tmp_path}/cache",
        f"hydra.run.dir={tmp_path}/run",
    ]
    env = {"PYTHONPATH": str(extensions)}
    result = run_train_cli(args, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    trained = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert trained["model"] == "bow" and trained["fusion"] == "mean"
    evaluated = subprocess.run(
        [
            sys.executable,
            "-m",
            "personafuse.evaluate",
            f"ckpt_path={tmp_path}/run/checkpoints/best.ckpt",
            "split=valid",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "evaluate" / "valid" / "metrics.json").read_text())
    assert metrics["valid/hits@1"] == pytest.approx(trained["val/hits@1"])
