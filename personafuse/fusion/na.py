"""Non-aware fusion (Eq. 9–10): profile weights from the profiles alone."""

from __future__ import annotations

import torch
from torch import nn

from personafuse.fusion.base import FUSIONS, BertLayout, PersonaFusion, attend_profiles

__all__ = ["NonAwareFusion"]


@FUSIONS.register("na")
class NonAwareFusion(PersonaFusion):
    """α_n = wᵀ p̄_n + b; the same persona vector for every candidate of a context."""

    bert = BertLayout(("persona",))  # [CLS] persona [SEP], once per context

    def __init__(self, dim: int):
        super().__init__(dim)
        self.scorer = nn.Linear(dim, 1)

    def forward(self, context, responses, profiles, profile_mask) -> torch.Tensor:
        persona = attend_profiles(self.scorer(profiles).squeeze(-1), profiles, profile_mask)
        return persona[:, None, :].expand_as(responses)
