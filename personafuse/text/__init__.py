"""Text side of the RNN models: tokens, vocabularies and pretrained word vectors."""

from __future__ import annotations

from personafuse.text.pretrained import PretrainedVectorsError, load_glove_text, load_packaged_glove
from personafuse.text.vocab import PAD, UNK, Vocabulary, tokenize

__all__ = [
    "PAD",
    "UNK",
    "PretrainedVectorsError",
    "Vocabulary",
    "load_glove_text",
    "load_packaged_glove",
    "tokenize",
]
