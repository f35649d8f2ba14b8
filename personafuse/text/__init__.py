"""Text side of the RNN models: tokens, vocabularies and pretrained word vectors."""

from __future__ import annotations

from personafuse.text.embeddings import build_word_vectors, training_sentences
from personafuse.text.pretrained import (
    MissingAssetError,
    PretrainedVectorsError,
    load_glove_text,
    load_packaged_glove,
)
from personafuse.text.vocab import PAD, UNK, Vocabulary, tokenize
from personafuse.text.word2vec import train_word2vec

__all__ = [
    "PAD",
    "UNK",
    "MissingAssetError",
    "PretrainedVectorsError",
    "Vocabulary",
    "build_word_vectors",
    "load_glove_text",
    "load_packaged_glove",
    "tokenize",
    "train_word2vec",
    "training_sentences",
]
