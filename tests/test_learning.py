"""Slow: the models learn on the synthetic corpus (run with `pytest -m slow`)."""

from __future__ import annotations

import pytest

from personafuse.config import compose_config
from personafuse.train import train

pytestmark = pytest.mark.slow
CELLS = [("none", "ra")] + [(p, f) for p in ("self", "partner") for f in ("na", "ca", "ra", "cra")]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """HRE, one epoch of the demo settings on the default synthetic corpus, every cell."""
    cache = tmp_path_factory.mktemp("cache")
    metrics = {}
    for persona, fusion in CELLS:
        cfg = compose_config(
            overrides=[
                "experiment=demo",
                f"persona={persona}",
                f"fusion={fusion}",
                f"paths.cache_dir={cache}",
                "trainer.enable_progress_bar=false",
            ]
        )
        cfg.paths.output_dir = str(tmp_path_factory.mktemp(f"{persona}-{fusion}"))
        metrics[(persona, fusion)] = train(cfg)
    return metrics


@pytest.mark.parametrize(("persona", "fusion"), CELLS)
def test_beats_chance_by_a_wide_margin(results, persona, fusion):
    assert results[(persona, fusion)]["test/hits@1"] > 0.05 + 0.10
    assert results[(persona, fusion)]["test/mrr"] > 0.18 + 0.10


@pytest.mark.parametrize("fusion", ["na", "ca", "ra", "cra"])
def test_self_persona_beats_no_persona(results, fusion):
    assert results[("self", fusion)]["test/hits@1"] > results[("none", "ra")]["test/hits@1"] + 0.02
