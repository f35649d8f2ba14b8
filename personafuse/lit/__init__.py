"""Lightning modules."""

from __future__ import annotations

from personafuse.lit.ranking import LOSSES, RankingModule, linear_warmup_decay

__all__ = ["LOSSES", "RankingModule", "linear_warmup_decay"]
