"""Frozen word vectors of the RNN models: pretrained GloVe ⊕ word2vec of the train split."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from personafuse.data.schema import RankingExample
from personafuse.text.pretrained import load_glove_text, load_packaged_glove
from personafuse.text.vocab import Vocabulary, tokenize
from personafuse.text.word2vec import train_word2vec

__all__ = ["build_word_vectors", "training_sentences", "unique_texts"]

log = logging.getLogger(__name__)


def unique_texts(examples: Sequence[RankingExample], candidates: bool = True) -> list[str]:
    """Every distinct utterance, response, persona sentence (and candidate) once, in order.

    Contexts repeat from turn to turn and candidates across contexts, so this is far smaller
    than the examples.
    """
    seen: dict[str, None] = {}
    for example in examples:
        texts = (
            *example.context,
            example.response,
            *example.self_persona,
            *example.partner_persona,
        )
        seen.update(dict.fromkeys(texts))
        if candidates:
            seen.update(dict.fromkeys(example.candidates))
    return list(seen)


def training_sentences(examples: Sequence[RankingExample]) -> list[list[str]]:
    """The split's distinct utterances, responses and persona sentences, tokenised."""
    return [tokenize(text) for text in unique_texts(examples, candidates=False)]


def build_word_vectors(
    vocab: Vocabulary,
    train_examples: Sequence[RankingExample],
    glove: str | os.PathLike | None = "packaged",
    word2vec_dim: int = 100,
    word2vec_epochs: int = 5,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> np.ndarray:
    """Concatenate pretrained and task-trained vectors for every vocabulary word.

    Args:
        vocab: Word vocabulary (ids 0 and 1 are ``<pad>`` and ``<unk>``: zero vectors).
        train_examples: The training split, for word2vec.
        glove: ``"packaged"`` (GloVe 6B 50-d from the offline extra), a path to a GloVe-format
            text file of any dimension (e.g. ``glove.840B.300d.txt`` as in the paper), or
            ``None`` for none.
        word2vec_dim: Size of the word2vec vectors (the paper: 100); 0 for none.

    Returns:
        A (len(vocab), D) float32 matrix.
    """
    parts = []
    if glove is not None:
        matrix, found = (
            load_packaged_glove(vocab) if glove == "packaged" else load_glove_text(glove, vocab)
        )
        log.info("GloVe (%s): %d of %d words have a vector", glove, found, len(vocab) - 2)
        parts.append(matrix)
    if word2vec_dim:
        vectors = train_word2vec(
            training_sentences(train_examples),
            dim=word2vec_dim,
            epochs=word2vec_epochs,
            seed=seed,
            cache_dir=cache_dir,
        )
        matrix = np.zeros((len(vocab), word2vec_dim), dtype=np.float32)
        for index, word in enumerate(vocab.itos[2:], start=2):
            if word in vectors.key_to_index:
                matrix[index] = vectors[word]
        parts.append(matrix)
    if not parts:
        raise ValueError(
            "no word vectors: set model.embeddings.glove or model.embeddings.word2vec_dim"
        )
    return np.concatenate(parts, axis=1)
