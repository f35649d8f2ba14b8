"""A lexical-overlap ranker: the floor any learned model must beat, and a probe of the data."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import torch

from personafuse.data.schema import RankingExample
from personafuse.text import tokenize

__all__ = ["LexicalOverlapRanker", "words"]


def words(text: str) -> list[str]:
    """Word tokens of ``text``, punctuation left out."""
    return [token for token in tokenize(text) if token[0].isalnum()]


class LexicalOverlapRanker:
    """Scores a candidate by the IDF-weighted words it shares with the context and persona.

    ``score = sum(idf(w) for w in cand & context) + persona_weight * sum(idf(w) for w in
    cand & persona)``, over distinct words. IDF is fitted on the utterances and candidates of
    the training examples, so frequent filler words weigh almost nothing.

    Args:
        persona_weight: Weight of persona overlap relative to context overlap.
    """

    def __init__(self, persona_weight: float = 1.0):
        self.persona_weight = persona_weight
        self.idf: dict[str, float] = {}
        self._default_idf = 0.0

    def fit(self, examples: Iterable[RankingExample]) -> LexicalOverlapRanker:
        documents: Counter[str] = Counter()
        total = 0
        for example in examples:
            texts = (*example.context[-1:], example.response, *example.candidates)
            for text in texts:
                documents.update(set(words(text)))
                total += 1
        self.idf = {w: math.log((1 + total) / (1 + n)) for w, n in documents.items()}
        self._default_idf = math.log(1 + total)
        return self

    def _weight(self, words: set[str]) -> float:
        return sum(self.idf.get(w, self._default_idf) for w in words)

    def score(self, examples: Iterable[RankingExample]) -> torch.Tensor:
        """Scores of every candidate. Shapes: returns (N, C) float64."""
        rows = []
        for example in examples:
            context = {w for u in example.context for w in words(u)}
            persona = {
                w for s in (*example.self_persona, *example.partner_persona) for w in words(s)
            }
            row = []
            for candidate in example.candidates:
                tokens = set(words(candidate))
                row.append(
                    self._weight(tokens & context)
                    + self.persona_weight * self._weight(tokens & persona)
                )
            rows.append(row)
        return torch.tensor(rows, dtype=torch.float64)
