"""Real configs compose (from the checkout and from an installed wheel); the main job runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate

from personafuse.config import CONFIG_DIR, compose_config
from personafuse.data import PERSONA_CHOICES, RankingDataModule

from .conftest import TINY_TRAINING, run_train_cli

ROOT = Path(__file__).resolve().parents[1]
TINY = [*TINY_TRAINING, "trainer.fast_dev_run=true"]


def test_config_groups_match_choices():
    assert sorted(p.stem for p in (CONFIG_DIR / "persona").glob("*.yaml")) == sorted(
        PERSONA_CHOICES
    )
    assert sorted(p.stem for p in (CONFIG_DIR / "dataset").glob("*.yaml")) == [
        "personachat",
        "synthetic",
    ]


@pytest.mark.parametrize("persona", PERSONA_CHOICES)
@pytest.mark.parametrize("dataset", ["personachat", "synthetic"])
def test_compose_and_instantiate(tmp_path, dataset, persona):
    cfg = compose_config(
        overrides=[f"dataset={dataset}", f"persona={persona}", f"paths.cache_dir={tmp_path}"]
    )
    datamodule = instantiate(cfg.datamodule)
    assert isinstance(datamodule, RankingDataModule)
    assert datamodule.persona == persona
    assert (
        type(datamodule.dataset).__name__
        == {"personachat": "PersonaChatFiles", "synthetic": "SyntheticPersonaChat"}[dataset]
    )


def test_main_job_generates_corpus_trains_and_prints_metrics(tmp_path):
    args = [
        f"paths.cache_dir={tmp_path}/cache",
        f"hydra.run.dir={tmp_path}/run",
        "persona=both",
        *TINY,
    ]
    result = run_train_cli(args, tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["persona"] == "both" and "test/hits@1" in metrics
    assert "persona=both" in result.stdout and "hits@1" in result.stdout and "MRR" in result.stdout
    corpus = next((tmp_path / "cache").glob("synthetic-*"))
    assert json.loads((corpus / "manifest.json").read_text())["splits"]["train"]["dialogues"] == 40


def test_bad_choices_and_missing_data_fail_cleanly(tmp_path):
    result = run_train_cli(["persona=bogus"], tmp_path)
    assert result.returncode == 2
    assert "persona=bogus: no such choice" in result.stderr and "partner" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_train_cli(
        ["dataset=personachat", f"paths.data_dir={tmp_path}/none", f"hydra.run.dir={tmp_path}/r"],
        tmp_path,
    )
    assert result.returncode == 1
    assert "personafuse.data.download" in result.stderr and "Traceback" not in result.stderr


def test_configs_ship_in_the_wheel(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("personafuse-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    assert (site / "personafuse" / "conf" / "train.yaml").is_file()
    assert (site / "personafuse" / "data" / "synthetic_lexicon.yaml").is_file()
    code = (
        "import pathlib, personafuse, personafuse.config as c\n"
        "assert c.CONFIG_DIR == pathlib.Path(personafuse.__file__).parent / 'conf', c.CONFIG_DIR\n"
        "cfg = c.compose_config(overrides=['persona=partner', 'dataset=personachat'])\n"
        "print(cfg.datamodule.persona)"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "partner"
    result = run_train_cli(
        [f"paths.cache_dir={tmp_path}/cache", f"hydra.run.dir={tmp_path}/run", *TINY], tmp_path, env
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("module", ["data.synthetic", "data.stats", "data.download", "evaluate"])
def test_module_commands_give_help_without_warnings(module):
    result = subprocess.run(
        [sys.executable, "-m", f"personafuse.{module}", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower() or "ckpt_path=PATH" in result.stdout
    assert "RuntimeWarning" not in result.stderr
