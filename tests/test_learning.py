"""Slow: the models learn on the synthetic corpus (run with `pytest -m slow`, ~12 minutes).

Budget: one epoch of the demo settings (conf/experiment/demo.yaml) on the default synthetic
corpus. At this budget HRE learns to use the self persona, strongly with RA (docs/benchmarks.md);
the context-only baseline and the partner persona stay near chance and need a larger budget.
"""

from __future__ import annotations

import pytest

from personafuse.config import compose_config
from personafuse.train import train

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
CELLS = [("none", "ra")] + [("self", f) for f in ("na", "ca", "ra", "cra")]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    metrics = {}
    for persona, fusion in CELLS:
        overrides = [
            "experiment=demo",
            f"persona={persona}",
            f"fusion={fusion}",
            f"paths.cache_dir={cache}",
            "trainer.enable_progress_bar=false",
        ]
        cfg = compose_config(overrides=overrides)
        cfg.paths.output_dir = str(tmp_path_factory.mktemp(f"{persona}-{fusion}"))
        metrics[(persona, fusion)] = train(cfg)
    return metrics


def test_hre_ra_with_self_persona_beats_chance_by_a_wide_margin(results):
    assert results[("self", "ra")]["test/hits@1"] > 0.05 + 0.25
    assert results[("self", "ra")]["test/mrr"] > 0.18 + 0.25


@pytest.mark.parametrize("fusion", ["na", "ca", "ra", "cra"])
def test_self_persona_beats_no_persona(results, fusion):
    assert results[("self", fusion)]["test/hits@1"] > results[("none", "ra")]["test/hits@1"] + 0.04
    assert results[("self", fusion)]["test/mrr"] > results[("none", "ra")]["test/mrr"] + 0.04
