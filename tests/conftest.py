"""Shared fixtures: real excerpts shipped in tests/fixtures and a tiny synthetic corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
RAW = FIXTURES / "personachat" / "raw"
TINY_DIALOGUES = {"train": 120, "valid": 40, "test": 40}


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A small synthetic corpus in Persona-Chat naming, generated once per test session."""
    from personafuse.data.synthetic import generate_corpus

    out = tmp_path_factory.mktemp("synthetic") / "corpus"
    generate_corpus(out, seed=7, dialogues=TINY_DIALOGUES)
    return out
