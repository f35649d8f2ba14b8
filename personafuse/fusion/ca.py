"""Context-aware fusion (Eq. 11–12): profiles weighted by their similarity to the context."""

from __future__ import annotations

import torch

from personafuse.fusion.base import FUSIONS, PersonaFusion, attend_profiles

__all__ = ["ContextAwareFusion"]


@FUSIONS.register("ca")
class ContextAwareFusion(PersonaFusion):
    """α_n = ĉᵀ p̄_n; computed once per context and shared by its candidates."""

    def forward(self, context, responses, profiles, profile_mask) -> torch.Tensor:
        scores = torch.einsum("bd,bnd->bn", context, profiles)
        return attend_profiles(scores, profiles, profile_mask)[:, None, :].expand_as(responses)
