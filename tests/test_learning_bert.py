"""Slow: BERT (MiniLM-L6) learns on the synthetic corpus (`pytest -m slow`, ~35 minutes).

Budget: conf/experiment/bert_demo.yaml (300 steps of 6 contexts × 2 pairs, lr 1e-4, 128
tokens). Measured (docs/benchmarks.md): NA test hits@1 0.20, CRA 0.62, chance 0.05. NA's
persona pass cannot change the ranking (it is the same for all candidates of a context), so NA
measures what the context alone gives; CRA must add the persona on top, as in the paper.
"""

from __future__ import annotations

import pytest

from personafuse.config import compose_config
from personafuse.train import train

pytestmark = [pytest.mark.slow, pytest.mark.timeout(5400)]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    metrics = {}
    for fusion in ("na", "cra"):
        cfg = compose_config(
            overrides=[
                "experiment=bert_demo",
                f"fusion={fusion}",
                "trainer.enable_progress_bar=false",
                f"paths.cache_dir={tmp_path_factory.mktemp('cache')}",
            ]
        )
        cfg.paths.output_dir = str(tmp_path_factory.mktemp(fusion))
        metrics[fusion] = train(cfg)
    return metrics


@pytest.mark.parametrize("fusion", ["na", "cra"])
def test_bert_beats_chance_by_a_wide_margin(results, fusion):
    assert results[fusion]["test/hits@1"] > 0.05 + 0.08
    assert results[fusion]["test/mrr"] > 0.18 + 0.08


def test_cra_uses_the_persona(results):
    assert results["cra"]["test/hits@1"] > results["na"]["test/hits@1"] + 0.2
