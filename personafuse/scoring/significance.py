"""Significance as in the paper: paired t-test per context against the no-persona model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from personafuse.scoring.predictions import ContextResults

__all__ = ["ALPHA", "PairedTest", "paired_ttest", "ttest_paired_values"]

ALPHA = 0.05


@dataclass(frozen=True)
class PairedTest:
    """Paired t-test of a run against its baseline on the same contexts.

    Attributes:
        metric: ``hits@1`` or ``mrr`` (per-context reciprocal rank).
        mean_run / mean_baseline: The two means over the shared contexts.
        statistic / p_value: scipy's ``ttest_rel`` (two-sided); p is 1.0 when both runs give
            identical per-context values (no difference to test).
        contexts: Number of paired contexts.
    """

    metric: str
    mean_run: float
    mean_baseline: float
    statistic: float
    p_value: float
    contexts: int

    @property
    def significant(self) -> bool:
        """★: p < 0.05 (the paper's rule)."""
        return self.p_value < ALPHA

    @property
    def improved(self) -> bool:
        return self.significant and self.mean_run > self.mean_baseline


def paired_ttest(run: ContextResults, baseline: ContextResults, metric: str) -> PairedTest:
    """Paired t-test on per-context hits@1 or reciprocal rank, over the contexts both share.

    Raises:
        ValueError: the two runs share no context, or ``metric`` is unknown.
    """
    values = {"hits@1": "hits_at_1", "mrr": "reciprocal_ranks"}
    if metric not in values:
        raise ValueError(f"metric {metric!r}; valid choices: {', '.join(values)}")
    shared, run_index, base_index = np.intersect1d(
        run.context_ids, baseline.context_ids, return_indices=True
    )
    if not len(shared):
        raise ValueError("the two runs share no context; were they tested on the same split?")
    a = getattr(run, values[metric])[run_index]
    b = getattr(baseline, values[metric])[base_index]
    return ttest_paired_values(metric, a, b)


def ttest_paired_values(metric: str, run: np.ndarray, baseline: np.ndarray) -> PairedTest:
    """Paired t-test of two runs' per-context values of ``metric``, already paired (same
    contexts, same order), e.g. the BLEU of each generated response."""
    a, b = np.asarray(run, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape or not len(a):
        raise ValueError(f"{metric}: {len(a)} run values against {len(b)} baseline values")
    if np.array_equal(a, b):
        statistic, p_value = 0.0, 1.0
    else:
        result = stats.ttest_rel(a, b)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return PairedTest(metric, float(a.mean()), float(b.mean()), statistic, p_value, len(a))
