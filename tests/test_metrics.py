"""Ranking metrics against an independent brute-force implementation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from personafuse.scoring.metrics import hits_at_k, mrr, ranks


def brute_force_rank(row: list[float], label: int) -> int:
    """Rank by counting, in plain Python, the others that beat or tie the true score."""
    rank = 1
    for j, value in enumerate(row):
        if j != label and value >= row[label]:
            rank += 1
    return rank


score_matrices = st.integers(1, 12).flatmap(
    lambda n: st.integers(2, 20).flatmap(
        lambda c: st.tuples(
            # few distinct values, negatives included, so ties are frequent
            st.lists(
                st.lists(
                    st.sampled_from([-3.5, -1.0, 0.0, 0.25, 2.0, 7.0]), min_size=c, max_size=c
                ),
                min_size=n,
                max_size=n,
            ),
            st.lists(st.integers(0, c - 1), min_size=n, max_size=n),
        )
    )
)


@settings(max_examples=200, deadline=None)
@given(score_matrices)
def test_against_brute_force(case):
    rows, labels = case
    expected = [brute_force_rank(r, y) for r, y in zip(rows, labels, strict=True)]
    scores, label_tensor = torch.tensor(rows), torch.tensor(labels)
    assert ranks(scores, label_tensor).tolist() == expected
    for k in (1, 2, 5):
        assert hits_at_k(scores, label_tensor, k).item() == pytest.approx(
            np.mean([r <= k for r in expected])
        )
    assert mrr(scores, label_tensor).item() == pytest.approx(np.mean([1 / r for r in expected]))


def test_ties_are_pessimistic():
    scores = torch.zeros(3, 20)
    labels = torch.tensor([0, 7, 19])
    assert ranks(scores, labels).tolist() == [20, 20, 20]
    assert hits_at_k(scores, labels, 1).item() == 0.0
    assert mrr(scores, labels).item() == pytest.approx(1 / 20)


def test_raw_logits_and_perfect_scores():
    scores = torch.tensor([[-5.0, -1.0, -9.0], [0.5, 0.4, 0.6]])
    labels = torch.tensor([1, 2])
    assert ranks(scores, labels).tolist() == [1, 1]
    assert mrr(scores, labels).item() == 1.0


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        (torch.zeros(4), torch.zeros(4, dtype=torch.long), "contexts, candidates"),
        (torch.zeros(2, 3), torch.zeros(3, dtype=torch.long), "labels must be"),
        (torch.zeros(2, 3), torch.tensor([0, 3]), "lie in"),
        (torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]), "NaN"),
    ],
)
def test_invalid_input(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        ranks(scores, labels)
