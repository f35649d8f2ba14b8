"""Lightning modules: ranking (Tables 2-6) and generation (Table 7)."""

from __future__ import annotations

from personafuse.lit.base import PersonafuseModule, linear_warmup_decay
from personafuse.lit.generation import GenerationModule
from personafuse.lit.ranking import LOSSES, RankingModule

__all__ = [
    "LOSSES",
    "GenerationModule",
    "PersonafuseModule",
    "RankingModule",
    "linear_warmup_decay",
]
