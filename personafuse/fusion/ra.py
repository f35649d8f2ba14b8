"""Response-aware fusion (Eq. 13–14): profiles weighted by their similarity to each candidate."""

from __future__ import annotations

import torch

from personafuse.fusion.base import FUSIONS, BertLayout, PersonaFusion, attend_profiles

__all__ = ["ResponseAwareFusion"]


@FUSIONS.register("ra")
class ResponseAwareFusion(PersonaFusion):
    """α_{c,n} = r̄_cᵀ p̄_n; one persona vector per candidate."""

    bert = BertLayout(("persona", "response"))  # [CLS] persona [SEP] response [SEP]

    def forward(self, context, responses, profiles, profile_mask) -> torch.Tensor:
        scores = torch.einsum("bcd,bnd->bcn", responses, profiles)
        return attend_profiles(scores, profiles, profile_mask)
