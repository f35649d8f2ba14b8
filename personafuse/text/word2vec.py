"""word2vec trained on the training split (gensim), cached on disk by corpus and parameters."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["train_word2vec"]

log = logging.getLogger(__name__)


def stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector with hash(word + seed); Python's str hash is
    salted per process, so use a stable one to make training reproducible across processes."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


def train_word2vec(
    sentences: Sequence[list[str]],
    dim: int = 100,
    window: int = 5,
    min_count: int = 1,
    epochs: int = 5,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
):
    """Train (or load from the cache) word2vec vectors on tokenised sentences.

    One worker thread, so that the same corpus, parameters and seed give the same vectors.
    The cache key hashes the sentences and every parameter.

    Returns:
        gensim ``KeyedVectors``.
    """
    from gensim.models import KeyedVectors, Word2Vec

    params = {"dim": dim, "window": window, "min_count": min_count, "epochs": epochs, "seed": seed}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for sentence in sentences:
        digest.update(" ".join(sentence).encode())
        digest.update(b"\n")
    path = (
        Path(cache_dir).expanduser() / "word2vec" / f"{digest.hexdigest()[:20]}.kv"
        if cache_dir
        else None
    )
    if path is not None and path.is_file():
        log.info("word2vec vectors from cache %s", path)
        return KeyedVectors.load(str(path))
    model = Word2Vec(
        sentences=list(sentences),
        vector_size=dim,
        window=window,
        min_count=min_count,
        epochs=epochs,
        seed=seed,
        workers=1,
        sg=0,
        hashfxn=stable_hash,
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".tmp{os.getpid()}")
        model.wv.save(str(partial))
        os.replace(partial, path)
    return model.wv
