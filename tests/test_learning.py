"""Slow: HRE and IMN learn on the synthetic corpus (run with `pytest -m slow`, ~45 minutes).

Budget: one epoch of the demo settings (conf/experiment/demo.yaml) on the default synthetic
corpus, seed 0 — the configurations of the learning check in docs/benchmarks.md. At this budget
both models learn to use the self persona (IMN with every strategy, HRE strongly with RA) and
IMN also the partner persona with NA; the context-only baselines stay near chance and need a
larger budget (docs/benchmarks.md).
"""

from __future__ import annotations

import pytest

from personafuse.config import compose_config
from personafuse.train import train

pytestmark = [pytest.mark.slow, pytest.mark.timeout(5400)]
CHANCE = {"test/hits@1": 0.05, "test/mrr": 0.18}
CELLS = [("hre", "none", "ra")] + [("hre", "self", f) for f in ("na", "ca", "ra", "cra")]
CELLS += [("imn", "none", "ra"), ("imn", "self", "ra"), ("imn", "partner", "na")]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    metrics = {}
    for model, persona, fusion in CELLS:
        overrides = [
            "experiment=demo",
            f"model={model}",
            f"persona={persona}",
            f"fusion={fusion}",
            f"paths.cache_dir={cache}",
            "trainer.enable_progress_bar=false",
        ]
        cfg = compose_config(overrides=overrides)
        cfg.paths.output_dir = str(tmp_path_factory.mktemp(f"{model}-{persona}-{fusion}"))
        metrics[(model, persona, fusion)] = train(cfg)
    return metrics


@pytest.mark.parametrize("cell", [("hre", "self", "ra"), ("imn", "self", "ra")])
def test_ra_with_self_persona_beats_chance_by_a_wide_margin(results, cell):
    for metric, chance in CHANCE.items():
        assert results[cell][metric] > chance + 0.25


@pytest.mark.parametrize(
    "cell", [("hre", "self", f) for f in ("na", "ca", "ra", "cra")] + [("imn", "self", "ra")]
)
def test_self_persona_beats_no_persona(results, cell):
    baseline = results[(cell[0], "none", "ra")]
    for metric in CHANCE:
        assert results[cell][metric] > baseline[metric] + 0.04


def test_imn_partner_persona_beats_no_persona(results):
    partner, baseline = results[("imn", "partner", "na")], results[("imn", "none", "ra")]
    for metric in CHANCE:
        assert partner[metric] > baseline[metric] + 0.1
