"""Shared fixtures: real excerpts shipped in tests/fixtures and a tiny synthetic corpus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
RAW = FIXTURES / "personachat" / "raw"
TINY_DIALOGUES = {"train": 120, "valid": 40, "test": 40}
# Overrides that make a training run take seconds: tiny corpus, tiny network, quiet trainer.
TINY_TRAINING = [
    "experiment=demo",
    "dataset.dialogues.train=40",
    "dataset.dialogues.valid=20",
    "dataset.dialogues.test=20",
    "model.backbone.hidden_size=8",
    "model.backbone.char_filters=2",
    "model.mlp_hidden=8",
    "model.embeddings.word2vec_dim=8",
    "model.embeddings.word2vec_epochs=1",
    "model.eval_batch_size=16",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A small synthetic corpus in Persona-Chat naming, generated once per test session."""
    from personafuse.data.synthetic import generate_corpus

    out = tmp_path_factory.mktemp("synthetic") / "corpus"
    generate_corpus(out, seed=7, dialogues=TINY_DIALOGUES)
    return out


def run_train_cli(
    args: list[str], cwd: Path, env: dict | None = None
) -> subprocess.CompletedProcess:
    """``python -m personafuse.train ARGS`` in a fresh process, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "personafuse.train", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
