"""Generation metrics of the paper's Table 7, per response (so that runs can be compared with a
paired t-test) and averaged.

- **BLEU**: nltk's ``sentence_bleu`` of the hypothesis against the one reference, with equal
  weights on the 1- to 4-gram precisions and the brevity (length) penalty — the paper's
  "weighted summation of BLEU 1-4 and the length" — and Chen & Cherry's smoothing method 1
  (a zero n-gram count becomes 0.1), without which almost every short chat reply scores 0.
  Tokens: lower-cased, split on white space after splitting off punctuation (Persona-Chat's
  text is tokenised that way already).
- **Dist-1 / Dist-2** at the instance level (Li et al., 2016): distinct n-grams ÷ n-grams of
  each response; a response without any n-gram counts 0.
- **Length**: words per response.

Every average is in % (BLEU, Dist) or words (length).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["GENERATION_METRICS", "corpus_scores", "distinct", "response_scores", "tokens"]

GENERATION_METRICS = ("bleu", "dist1", "dist2", "length")
_PUNCTUATION = re.compile(r"([.,!?;:()\"])")


def tokens(text: str) -> list[str]:
    return _PUNCTUATION.sub(r" \1 ", text.lower()).split()


def distinct(words: Sequence[str], n: int) -> float:
    """Distinct n-grams ÷ n-grams of one response (0 when it has none)."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def response_scores(hypothesis: str, reference: str) -> dict[str, float]:
    """BLEU (0–1), Dist-1, Dist-2 (0–1) and length of one generated response."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    hypothesis_words, reference_words = tokens(hypothesis), tokens(reference)
    bleu = (
        sentence_bleu(
            [reference_words],
            hypothesis_words,
            weights=(0.25, 0.25, 0.25, 0.25),
            smoothing_function=SmoothingFunction().method1,
        )
        if hypothesis_words
        else 0.0
    )
    return {
        "bleu": float(bleu),
        "dist1": distinct(hypothesis_words, 1),
        "dist2": distinct(hypothesis_words, 2),
        "length": float(len(hypothesis_words)),
    }


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """The averages over responses: BLEU, Dist-1, Dist-2 in %, length in words."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not hypotheses:
        return dict.fromkeys(GENERATION_METRICS, 0.0)
    rows = [response_scores(h, r) for h, r in zip(hypotheses, references, strict=True)]
    scale = {"bleu": 100.0, "dist1": 100.0, "dist2": 100.0, "length": 1.0}
    return {m: scale[m] * sum(row[m] for row in rows) / len(rows) for m in GENERATION_METRICS}
