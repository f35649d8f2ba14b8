"""The paper's matching feature (Eq. 17): m = [ĉ; p̂; r̄]."""

from __future__ import annotations

import torch

from personafuse.matching.base import MATCHING, MatchingFeature, MatchingInputs

__all__ = ["Concatenation"]


@MATCHING.register("concat")
class Concatenation(MatchingFeature):
    """[ĉ; p̂_1 … p̂_P; r̄]: with no persona [ĉ; r̄] (Table 3), with both [ĉ; p̂_self;
    p̂_partner; r̄]. Width (2 + P)·D."""

    def __init__(self, dim: int, num_personas: int):
        super().__init__(dim, num_personas)
        self.width = (2 + num_personas) * dim

    def forward(self, inputs: MatchingInputs) -> torch.Tensor:
        return torch.cat([inputs.context, *inputs.personas, inputs.responses], dim=-1)
