"""Ranking metrics on an (N, C) score matrix: pure functions, pessimistic on ties.

A candidate whose score equals the true candidate's ranks *above* it, so a model that gives
every candidate the same score gets rank C, never rank 1: the position of the true response
can never flatter a model. hits@1 equals the paper's R20@1; MRR is over all C candidates.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["hits_at_k", "mrr", "per_context", "ranks", "reciprocal_ranks"]


def ranks(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1-based rank of the true candidate of each context (pessimistic on ties).

    Args:
        scores: Candidate scores, any real values (raw logits are fine).
        labels: Index of the true candidate of each context.

    Returns:
        Rank of the true candidate, between 1 and C.

    Shapes:
        scores: (N, C); labels: (N,); returns (N,) int64.
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must be (contexts, candidates), got shape {tuple(scores.shape)}")
    if labels.shape != scores.shape[:1]:
        raise ValueError(f"labels must be ({scores.shape[0]},), got {tuple(labels.shape)}")
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN")
    labels = labels.to(device=scores.device, dtype=torch.long)
    if labels.numel() and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(f"labels must lie in [0, {scores.shape[1]})")
    true_scores = scores.gather(1, labels[:, None])
    # Every candidate scoring >= the true one ranks above it; the true one counts itself once.
    return (scores >= true_scores).sum(dim=1)


def per_context(true_ranks, hits_k: Sequence[int] = (1,)) -> dict:
    """Each context's ``hits@k`` (1.0 or 0.0) and reciprocal rank (``mrr``) from the rank of
    its true candidate: the one definition that the training metrics, :func:`hits_at_k`,
    :func:`mrr` and the predictions files' significance tests share.

    Shapes:
        true_ranks: (N,) tensor or NumPy array, ranks ≥ 1; each value (N,) of the same kind.
    """
    return {**{f"hits@{k}": (true_ranks <= k) * 1.0 for k in hits_k}, "mrr": 1.0 / true_ranks}


def reciprocal_ranks(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1 / rank of the true candidate of each context. Shapes: (N, C), (N,) -> (N,) float."""
    return per_context(ranks(scores, labels).to(torch.float64))["mrr"]


def hits_at_k(scores: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Fraction of contexts whose true candidate ranks within the top ``k``.

    Shapes:
        scores: (N, C); labels: (N,); returns a 0-d float64 tensor.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return per_context(ranks(scores, labels).to(torch.float64), (k,))[f"hits@{k}"].mean()


def mrr(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean reciprocal rank over all C candidates (not MRR@10).

    Shapes:
        scores: (N, C); labels: (N,); returns a 0-d float64 tensor.
    """
    return reciprocal_ranks(scores, labels).mean()
