"""Context-response-aware fusion (Eq. 15–16): a query made from the context and each candidate."""

from __future__ import annotations

import torch
from torch import nn

from personafuse.fusion.base import FUSIONS, BertLayout, PersonaFusion, attend_profiles

__all__ = ["ContextResponseAwareFusion"]


@FUSIONS.register("cra")
class ContextResponseAwareFusion(PersonaFusion):
    """α_{c,n} = (W[ĉ; r̄_c] + b)ᵀ p̄_n with W: 2D → D."""

    bert = BertLayout(joint=True)  # one pass: persona, context, response + subtypes

    def __init__(self, dim: int):
        super().__init__(dim)
        # W[ĉ; r̄] = W_c ĉ + W_r r̄: the context half is applied once per context, not per candidate.
        self.context_projection = nn.Linear(dim, dim)
        self.response_projection = nn.Linear(dim, dim, bias=False)

    def forward(self, context, responses, profiles, profile_mask) -> torch.Tensor:
        context_query = self.context_projection(context)
        if context.dim() == 2:
            context_query = context_query[:, None, :]
        query = context_query + self.response_projection(responses)
        scores = torch.einsum("bcd,bnd->bcn", query, profiles)
        return attend_profiles(scores, profiles, profile_mask)
