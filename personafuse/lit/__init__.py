"""Lightning modules."""

from __future__ import annotations

from personafuse.lit.ranking import RankingModule

__all__ = ["RankingModule"]
