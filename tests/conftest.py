"""Shared fixtures: real excerpts shipped in tests/fixtures and a tiny synthetic corpus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# make test runs one pytest worker per core (pytest-xdist). Each worker, and every process it
# starts, computes with its share of the cores: OpenMP threads of several processes fighting
# over the same cores make all of them 5-10x slower. Set before torch is imported.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = str(max(1, (cores or 1) // workers))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads

FIXTURES = Path(__file__).parent / "fixtures"
RAW = FIXTURES / "personachat" / "raw"
TINY_DIALOGUES = {"train": 120, "valid": 40, "test": 40}
# Overrides that make a training run take seconds: tiny corpus, tiny network, quiet trainer.
TINY_CORPUS = [
    "dataset.dialogues.train=40",
    "dataset.dialogues.valid=20",
    "dataset.dialogues.test=20",
]
TINY_RNN = [
    "model.backbone.hidden_size=8",
    "model.backbone.char_filters=2",
    "model.mlp_hidden=8",
    "model.embeddings.word2vec_dim=8",
    "model.embeddings.word2vec_epochs=1",
    "model.eval_batch_size=16",
]
TINY_TRAINING = [
    "experiment=demo",
    *TINY_CORPUS,
    *TINY_RNN,
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


def tiny_bert_training(pretrained: Path) -> list[str]:
    """Overrides for a seconds-long BERT run with the tiny random checkpoint."""
    return [
        "model=bert",
        f"model.pretrained={pretrained}",
        "dataset.dialogues.train=40",
        "dataset.dialogues.valid=20",
        "dataset.dialogues.test=20",
        "model.max_len=64",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
    ]


def make_tiny_bert(directory: Path, seed: int = 0) -> Path:
    """A randomly initialised 2-layer BERT with a wordpiece vocabulary of the synthetic lexicon
    and the fixture words, saved like a Hugging Face checkpoint (no download)."""
    import re

    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from personafuse.data.synthetic import _lexicon

    words = set(re.findall(r"[a-z']+|[^\sa-z']", str(_lexicon()).lower()))
    words |= set(re.findall(r"[a-z']+", " ".join(p.read_text() for p in sorted(RAW.glob("*")))))
    chars = {c for w in words for c in w}
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *sorted(words),
        *sorted(f"##{c}" for c in chars),
    ]
    directory.mkdir(parents=True, exist_ok=True)
    vocab = {token: index for index, token in enumerate(dict.fromkeys(vocab))}
    BertTokenizerFast(vocab=vocab).save_pretrained(directory)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """Directory of a tiny random BERT checkpoint, made once per test session."""
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


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


@pytest.fixture(scope="session")
def tiny_hre_run(tmp_path_factory) -> Path:
    """The run directory of a 3-step HRE-RA (self persona) training run, made once per test
    session: what the ranking API, the index, the chat and the server load."""
    root = tmp_path_factory.mktemp("tiny-hre")
    run = root / "run"
    result = run_train_cli(
        [*TINY_TRAINING, "trainer.max_steps=3", f"hydra.run.dir={run}",
         f"paths.cache_dir={root}/cache"],
        root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return run
