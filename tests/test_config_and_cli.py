"""Real configs compose (from the checkout and from an installed wheel); the main job runs."""

from __future__ import annotations

import json
import os
import shutil
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
    assert (site / "personafuse" / "web" / "chat.html").is_file()  # the server's chat page
    assert (site / "personafuse" / "py.typed").is_file()  # type checkers read its hints
    (metadata,) = site.glob("personafuse-*.dist-info/METADATA")
    assert "Project-URL: Paper, https://arxiv.org/abs/2105.09050" in metadata.read_text()
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


def _console_scripts() -> dict[str, str]:
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    return {name: target.split(":")[0] for name, target in scripts.items()}


@pytest.mark.parametrize("module", sorted(set(_console_scripts().values())))
def test_every_entry_point_gives_help_with_examples(module):
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"python -m {module}" in result.stdout  # how to call it, then what it does
    assert "example" in result.stdout.lower()
    assert "RuntimeWarning" not in result.stderr


def test_console_scripts_are_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in _console_scripts():
        assert name in readme, name


def test_train_help_lists_groups_and_keys_docs():
    result = subprocess.run(
        [sys.executable, "-m", "personafuse.train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "fusion: ca, cra, na, ra" in result.stdout
    assert "docs/configuration.md" in result.stdout and "completion" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["trainer.max_step=5"], "did you mean 'trainer.max_steps'?"),
        (["model=imn", "model.backbone.hiden_size=3"], "'model.backbone.hidden_size'"),
        (["dataset.data_dir=/x"], "it is a key of dataset=personachat"),
        (["--multirun", "model=hre,imn", "trainer.max_epoch=1"], "'trainer.max_epochs'"),
        (["model=imn", "model.backbone.enhancement_projection=true"], None),
        (["experiment=demo", "model.matching=[concat]", "+trainer.new_key=1"], None),
        (["dataset=personachat", "dataset.data_dir=/x", "hydra.run.dir=/tmp/x"], None),
    ],
)
def test_unknown_keys_name_the_closest_key(overrides, expected):
    from personafuse.runs.overrides import command_line_overrides, unknown_key

    message = unknown_key(command_line_overrides(overrides))
    if expected is None:
        assert message is None
    else:
        assert expected in message and message.startswith(overrides[-1])


def test_a_mistyped_key_fails_in_one_line(tmp_path):
    result = run_train_cli(["trainer.max_step=5"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "did you mean 'trainer.max_steps'?" in result.stderr


def test_completion_queries_are_not_checked_as_overrides():
    from personafuse.runs.overrides import command_line_overrides

    assert command_line_overrides(["-sc", "query=bash"]) is None
    assert command_line_overrides(["--cfg", "job", "a=1", "-m"]) == ["a=1"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # A choice of a group, like persona=pa below: with the slow tests (test time).
        pytest.param("python -m personafuse.train model=i", "model=imn", marks=pytest.mark.slow),
        ("python -m personafuse.train trainer.max_st", "trainer.max_steps="),
        ("personafuse-train persona=pa", "persona=partner"),
    ],
)
def test_shell_completion_of_the_documented_commands(line, expected):
    """The documented install line, then what bash does on TAB."""
    script = (
        'eval "$(python -m personafuse.completion bash)"\n'
        f'COMP_LINE="{line}"; read -a COMP_WORDS <<< "$COMP_LINE"\n'
        "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _personafuse_complete\n"
        'echo "${COMPREPLY[*]}"'
    )
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.stdout.split() == [expected], result.stderr
