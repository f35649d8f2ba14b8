"""A pool of candidate responses and a BM25 first stage over it (``bm25s``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["Bm25Retriever", "PoolError", "pool_from_examples", "read_pool"]


class PoolError(ValueError):
    """A pool file that cannot be used; the message names the file and line."""


def read_pool(path: str | Path) -> tuple[list[str], int]:
    """Responses of a text file, one per line, each kept once (first occurrence).

    Returns:
        ``(responses, duplicates)``: the distinct responses in file order and how many
        repeated lines were merged into them.

    Raises:
        PoolError: The file is missing or empty, or a line is blank.
    """
    path = Path(path)
    if not path.is_file():
        raise PoolError(f"{path}: no such pool file (one response per line)")
    responses, seen, duplicates = [], set(), 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            text = line.rstrip("\n")
            if not text.strip():
                raise PoolError(f"{path}:{number}: a blank line; a pool holds one response a line")
            if text in seen:
                duplicates += 1
                continue
            seen.add(text)
            responses.append(text)
    if not responses:
        raise PoolError(f"{path}: empty; a pool holds one response a line")
    return responses, duplicates


def pool_from_examples(examples) -> list[str]:
    """Every distinct true response of a split, in order of first appearance."""
    return list(dict.fromkeys(example.response for example in examples))


class Bm25Retriever:
    """BM25 (``bm25s``) over the pool; queries are the dialogue so far.

    Args:
        pool: The responses.
    """

    def __init__(self, pool: Sequence[str], index=None):
        import bm25s

        self.pool = list(pool)
        if index is None:
            tokens = bm25s.tokenize(self.pool, stopwords=None, show_progress=False)
            if not tokens.vocab:
                raise PoolError("no response of the pool has a word BM25 can index (only "
                                "punctuation?)")  # fmt: skip
            index = bm25s.BM25()
            index.index(tokens, show_progress=False)
        self.index = index

    def save(self, directory: str | Path) -> None:
        self.index.save(str(Path(directory) / "bm25"), show_progress=False)

    @classmethod
    def load(cls, directory: str | Path, pool: Sequence[str]) -> Bm25Retriever:
        import bm25s

        return cls(pool, bm25s.BM25.load(str(Path(directory) / "bm25"), show_progress=False))

    def top_k(self, context: Sequence[str], k: int) -> list[int]:
        """Pool indices of the k best BM25 matches of the context's words, best first (all of
        the pool when it is smaller). Responses sharing no word with the context score 0 and
        fill the list in no particular order."""
        import bm25s

        k = min(k, len(self.pool))
        query = bm25s.tokenize([" ".join(context)], stopwords=None, show_progress=False)
        indices, _ = self.index.retrieve(query, k=k, show_progress=False)
        return [int(i) for i in np.asarray(indices)[0]]
