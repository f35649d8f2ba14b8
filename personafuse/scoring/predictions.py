"""Per-candidate predictions files: ``context_id  candidate_id  score  rank  relevance``.

The public code's 5-column layout, tab-separated, no header, one line per candidate:
``context_id`` is the context's 0-based position in its split file, ``candidate_id`` the
candidate's position in the file's candidate list, ``rank`` 1 = best (ties rank the true
candidate below the others, the pessimistic rule of :mod:`personafuse.scoring.metrics`), and
``relevance`` 1 for the true response. Other tools (trec_eval-style scripts, pandas) can check
every reported number from it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from personafuse.data.schema import RankingExample
from personafuse.scoring.metrics import per_context

__all__ = ["ContextResults", "read_predictions", "write_predictions"]


def write_predictions(
    path: str | Path, examples: Sequence[RankingExample], scores: torch.Tensor
) -> None:
    """Write one line per candidate of every context.

    Shapes:
        scores: (N, C) for the N ``examples`` in order.
    """
    if scores.shape[0] != len(examples):
        raise ValueError(f"{scores.shape[0]} score rows for {len(examples)} contexts")
    values = scores.detach().float().cpu().numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        for context_id, (example, row) in enumerate(zip(examples, values, strict=True)):
            relevance = np.zeros(len(row), dtype=np.int64)
            relevance[example.label] = 1
            # Sort by score, descending; on ties the true candidate goes last (pessimistic).
            order = np.lexsort((relevance, -row))
            rank = np.empty(len(row), dtype=np.int64)
            rank[order] = np.arange(1, len(row) + 1)
            candidate_ids = example.candidate_ids or tuple(range(len(row)))
            for j in range(len(row)):
                writer.writerow(
                    [context_id, candidate_ids[j], f"{row[j]:.6g}", rank[j], relevance[j]]
                )


@dataclass
class ContextResults:
    """Per-context results read back from a predictions file.

    Shapes:
        context_ids, true_ranks: (N,); hits@1 and reciprocal rank follow from ``true_ranks``.
    """

    context_ids: np.ndarray
    true_ranks: np.ndarray

    @property
    def hits_at_1(self) -> np.ndarray:
        return per_context(self.true_ranks)["hits@1"]

    @property
    def reciprocal_ranks(self) -> np.ndarray:
        return per_context(self.true_ranks)["mrr"]


def read_predictions(path: str | Path) -> ContextResults:
    """The true candidate's rank in every context of a predictions file."""
    path = Path(path)
    true_ranks: dict[int, int] = {}
    with path.open() as handle:
        for line_number, line in enumerate(handle, start=1):
            fields = line.rstrip("\n").split("\t")
            try:
                context_id, _, _, rank, relevance = fields
                if int(relevance) == 1:
                    true_ranks[int(context_id)] = int(rank)
            except ValueError:
                raise ValueError(
                    f"{path}:{line_number}: expected 5 tab-separated columns "
                    f"(context_id candidate_id score rank relevance), got {line.rstrip()!r}"
                ) from None
    ids = np.array(sorted(true_ranks), dtype=np.int64)
    return ContextResults(ids, np.array([true_ranks[i] for i in ids], dtype=np.int64))
