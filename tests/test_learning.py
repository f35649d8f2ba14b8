"""Slow: HRE and IMN learn on the synthetic corpus (run with `pytest -m slow`, ~60 minutes).

Budget: two epochs (878 steps) of the demo settings (conf/experiment/demo.yaml, with the
``products`` and ``utterance_attention`` matching features) on the default synthetic corpus,
seed 0 — the configurations of the learning check in docs/benchmarks.md, which measured every
cell asserted here. At this budget the context alone is learnt (a reply that picks up a value
word of the context), the self persona adds to it with every strategy, and HRE-RA also gains
from the partner persona.
"""

from __future__ import annotations

import pytest

from personafuse.config import compose_config
from personafuse.train import train

pytestmark = [pytest.mark.slow, pytest.mark.timeout(7200)]
CHANCE = {"test/hits@1": 0.05, "test/mrr": 0.18}
# "A wide margin" over chance: twice chance hits@1, and MRR 0.08 above chance.
WIDE_MARGIN = {"test/hits@1": 0.05, "test/mrr": 0.08}
CELLS = [("hre", "none", "ra")] + [("hre", "self", f) for f in ("na", "ca", "ra", "cra")]
CELLS += [("hre", "partner", "ra"), ("imn", "none", "ra"), ("imn", "self", "ra")]


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
            "trainer.max_epochs=2",
            f"paths.cache_dir={cache}",
            "trainer.enable_progress_bar=false",
        ]
        cfg = compose_config(overrides=overrides)
        cfg.paths.output_dir = str(tmp_path_factory.mktemp(f"{model}-{persona}-{fusion}"))
        metrics[(model, persona, fusion)] = train(cfg)
    return metrics


@pytest.mark.parametrize("cell", CELLS, ids="-".join)
def test_every_cell_beats_chance_by_a_wide_margin(results, cell):
    for metric, chance in CHANCE.items():
        assert results[cell][metric] > chance + WIDE_MARGIN[metric], metric


@pytest.mark.parametrize("cell", [("hre", "self", "ra"), ("imn", "self", "ra")], ids="-".join)
def test_ra_with_self_persona_beats_chance_by_far(results, cell):
    for metric, chance in CHANCE.items():
        assert results[cell][metric] > chance + 0.25, metric


@pytest.mark.parametrize(
    "cell",
    [("hre", "self", f) for f in ("na", "ca", "ra", "cra")]
    + [("imn", "self", "ra"), ("hre", "partner", "ra")],
    ids="-".join,
)
def test_persona_beats_no_persona(results, cell):
    baseline = results[(cell[0], "none", "ra")]
    for metric in CHANCE:
        assert results[cell][metric] > baseline[metric] + 0.04, metric
