"""BLEU, Dist-n and length of generated responses, by hand and against nltk."""

from __future__ import annotations

import math

import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from personafuse.generation.metrics import corpus_scores, distinct, response_scores, tokens


def test_tokens_split_punctuation_and_lower_case():
    assert tokens("Hi, I am Bob!") == ["hi", ",", "i", "am", "bob", "!"]


def test_distinct_by_hand():
    words = ["i", "like", "dogs", "i", "like", "cats"]
    assert distinct(words, 1) == pytest.approx(4 / 6)  # i like dogs cats
    assert distinct(words, 2) == pytest.approx(4 / 5)  # "i like" twice
    assert distinct(["hi"], 2) == 0.0  # no bigram at all


def test_bleu_by_hand_with_brevity_penalty_and_smoothing():
    hypothesis, reference = "i like dogs", "i really like dogs a lot"
    # precisions: 1-grams 3/3, 2-grams 1/2 ("like dogs"), 3-grams 0/1 and 4-grams 0/0, which
    # smoothing method 1 turns into 0.1 each; brevity penalty exp(1 - 6/3)
    scores = response_scores(hypothesis, reference)
    expected = sentence_bleu(
        [reference.split()],
        hypothesis.split(),
        weights=(0.25,) * 4,
        smoothing_function=SmoothingFunction().method1,
    )
    assert scores["bleu"] == pytest.approx(expected)
    brevity = math.exp(1 - 6 / 3)
    by_hand = brevity * math.exp(0.25 * sum(math.log(p) for p in (1.0, 0.5, 0.1, 0.1)))
    assert scores["bleu"] == pytest.approx(by_hand, rel=1e-6)
    assert scores["length"] == 3.0


def test_identical_long_response_scores_one():
    text = "i have two dogs and a cat at home"
    assert response_scores(text, text)["bleu"] == pytest.approx(1.0)


def test_corpus_scores_average_in_percent():
    scores = corpus_scores(["i like dogs", ""], ["i like dogs a lot", "hello there"])
    assert scores["dist1"] == pytest.approx(50.0)  # 100 % and the empty response's 0
    assert scores["length"] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        corpus_scores(["a", "b"], ["a"])
