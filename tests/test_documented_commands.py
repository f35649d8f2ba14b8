"""Every shell command of the README and docs/ either runs here, offline, with overrides that
make it take seconds, or is listed below with the reason it cannot (internet, GPUs, the real
Persona-Chat). A new documented command is run unless a rule says why not, so the docs cannot
drift from what the code accepts."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TINY_CORPUS, TINY_RNN

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", re.S)
# (pattern in the command, why it does not run here)
NOT_OFFLINE = [
    ("pip install", "installs packages"),
    ("make test", "the test suite itself"),
    ("personafuse.data.download", "downloads Persona-Chat (internet)"),
    ("dataset=personachat", "reads the downloaded Persona-Chat"),
    ("experiment=table", "the paper's tables run on the downloaded Persona-Chat"),
    ("~/.cache/personafuse/data/personachat", "reads the downloaded Persona-Chat"),
    ("personafuse.report sweeps/", "reports the Persona-Chat sweeps of the line above"),
    ("trainer=ddp ", "needs several GPUs"),
    ("srun ", "needs a SLURM cluster"),
    ("torchrun ", "needs several machines"),
    ("plugins=[my_extensions]", "run by tests/test_extending.py with the page's own files"),
    ("benchmarks/learning_check.py", "a learning check of hours (docs/benchmarks.md)"),
    ("$ROOT", "a placeholder for the sweep root of the lines above"),
    ("--out DIR [", "a synopsis with placeholders"),
    ("RUN/", "a placeholder for a run directory (tests/test_index_chat.py runs these)"),
    ("python -m personafuse.serve ", "a server that runs until stopped (tests/test_serve.py)"),
    ("curl ", "asks a running server (tests/test_serve.py)"),
    ("git clone", "a fresh clone"),
    ("python3 -m venv", "a new environment"),
    ("wget ", "downloads GloVe (internet)"),
    ("from transformers import AutoModel", "downloads the paper's weights (internet)"),
    (
        "experiment=paper",
        "the whole paper on the downloaded Persona-Chat (tests/test_paper_presets.py)",
    ),
    ("hydra/launcher=submitit_slurm", "needs a SLURM cluster"),
    ("squeue", "asks a SLURM cluster"),
    ("sweeps/paper", "reads the paper's sweep of the lines above"),
    ("hparams_search=optuna", "a search of many trainings (tests/test_sweeps.py runs a small one)"),
]
# Pages that record the commands of a result, at the commit they name.
HISTORICAL = ("docs/synthetic_table4/", "docs/synthetic_hre/", "docs/synthetic_table7/")
# Seconds-long runs: a tiny corpus and network, two steps, one batch per evaluation.
TINY = [
    *TINY_CORPUS,
    "trainer.max_steps=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.enable_progress_bar=false",
]


def documented_commands() -> list[tuple[str, str]]:
    """``(document, command)`` for every non-comment line of a shell block, in order, each
    command once."""
    seen, commands = set(), []
    for path in DOCUMENTS:
        for block in BLOCK.findall(path.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                command = re.sub(r"\s+#.*$", "", line).strip()
                if command and not command.startswith("#") and command not in seen:
                    seen.add(command)
                    commands.append((str(path.relative_to(ROOT)), command))
    return commands


def why_not_here(document: str, command: str) -> str | None:
    if document.startswith(HISTORICAL):
        return "pinned to the commit its page names"
    if re.fullmatch(r'[A-Z_]+=("[^"]*"|\S+)', command):
        return "a shell variable for the lines below"
    return next((reason for pattern, reason in NOT_OFFLINE if pattern in command), None)


COMMANDS = documented_commands()
RUNNABLE = [(doc, cmd) for doc, cmd in COMMANDS if why_not_here(doc, cmd) is None]


def test_every_documented_command_is_run_or_has_a_reason():
    assert len(COMMANDS) >= 40
    for document, command in COMMANDS:
        reason = why_not_here(document, command)
        assert reason or command in {cmd for _, cmd in RUNNABLE}, (document, command)
    assert len(RUNNABLE) >= 12


def _argv(command: str, tiny_bert: Path) -> list[str]:
    """The command with this Python, /tmp paths kept in the test's directory, and the tiny
    overrides for the train and evaluate entry points."""
    if command.startswith("make demo"):
        command = "python -m personafuse.train experiment=demo"  # the Makefile's target
    words = shlex.split(command.replace("/tmp/", "./tmp/"))
    assert words[:2] == ["python", "-m"], f"not a python -m command: {command}"
    module, arguments = words[2], words[3:]
    if module == "personafuse.train" and not {"--help", "--cfg"} & set(arguments):
        bert = any(a in ("model=bert", "experiment=bert_demo") for a in arguments)
        generator = "model=unilm" in arguments
        model = [f"model.pretrained={tiny_bert}", "model.max_len=64"] if bert else TINY_RNN
        model = [f"model.pretrained={tiny_bert}"] if generator else model
        arguments = [*arguments, *TINY, *model]
    return [sys.executable, "-m", module, *arguments]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One directory for all commands, in document order: a later command may read what an
    earlier one wrote (evaluate reads the resumed run's checkpoint)."""
    return tmp_path_factory.mktemp("documented")


def _train_variant(command: str, models_run: set[str]) -> bool:
    """A training command for a model an earlier documented command already trained (only
    its config choices differ): it runs with the slow tests, and the default run composes and
    checks its config (test_documented_variants_compose), which is where a wrong key or choice
    would fail."""
    words = shlex.split(command)
    if words[:3] != ["python", "-m", "personafuse.train"] or {"--help", "--cfg"} & set(words):
        return False
    if any(w.startswith(("ckpt_path=", "experiment=")) for w in words):
        return False
    model = next((w.partition("=")[2] for w in words if w.startswith("model=")), "default")
    if model in models_run:
        return True
    models_run.add(model)
    return False


def _params():
    """A 16-job sweep runs with the slow tests (the sweep machinery is in test_train.py), and
    so do the training commands that only vary an earlier one's config choices."""
    models_run: set[str] = set()
    for document, command in RUNNABLE:
        slow = "--multirun" in command or _train_variant(command, models_run)
        marks = [pytest.mark.slow] if slow else []
        yield pytest.param(document, command, marks=marks, id=command)


@pytest.mark.parametrize("command", [p.values[1] for p in _params() if p.marks and
                                     "--multirun" not in p.values[1]])  # fmt: skip
def test_documented_variants_compose(command):
    from personafuse.config import compose_config
    from personafuse.runs.checks import check_config
    from personafuse.runs.overrides import check_command_line

    arguments = shlex.split(command)[3:]
    check_command_line(arguments)
    cfg = compose_config(overrides=arguments)
    check_config(cfg)


@pytest.mark.parametrize(("document", "command"), list(_params()))
def test_documented_command_runs(document, command, workdir, tiny_bert):
    env = {
        **os.environ,
        "PERSONAFUSE_CACHE": str(workdir / "cache"),
        "PERSONAFUSE_DATA": str(workdir / "data"),
    }
    argv = _argv(command, tiny_bert)
    if "ckpt_path=last" in argv:  # a run to resume: the same command, stopped after 1 step
        first = [a for a in argv if a != "ckpt_path=last" and not a.startswith("trainer.max_")]
        done = subprocess.run(
            [*first, "trainer.max_steps=1"], cwd=workdir, env=env, capture_output=True,
            text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    # No input: the chat reads standard input until it ends.
    result = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True,
                            timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip
    assert result.returncode == 0, f"{document}: {command}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
