"""Context-aware fusion (Eq. 11–12): profiles weighted by their similarity to the context."""

from __future__ import annotations

import torch

from personafuse.fusion.base import FUSIONS, BertLayout, PersonaFusion, attend_profiles

__all__ = ["ContextAwareFusion"]


@FUSIONS.register("ca")
class ContextAwareFusion(PersonaFusion):
    """α_n = ĉᵀ p̄_n; once per context and shared by its candidates when ĉ is (HRE), per
    candidate when ĉ depends on it (IMN)."""

    bert = BertLayout(("persona", "context"))  # [CLS] persona [SEP] context [SEP]

    def forward(self, context, responses, profiles, profile_mask) -> torch.Tensor:
        if context.dim() == 3:
            return attend_profiles(
                torch.einsum("bcd,bnd->bcn", context, profiles), profiles, profile_mask
            )
        scores = torch.einsum("bd,bnd->bn", context, profiles)
        return attend_profiles(scores, profiles, profile_mask)[:, None, :].expand_as(responses)
