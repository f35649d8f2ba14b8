"""Beyond the paper: element-wise products of the context and personas with the response."""

from __future__ import annotations

import torch

from personafuse.matching.base import MATCHING, MatchingFeature, MatchingInputs

__all__ = ["Products"]


@MATCHING.register("products")
class Products(MatchingFeature):
    """[ĉ ⊙ r̄; p̂_1 ⊙ r̄_f … p̂_P ⊙ r̄_f], r̄_f the response vector fusion attended with.

    Eq. 17's concatenation leaves it to the MLP to learn any comparison of vectors, which
    takes tens of thousands of steps; the products give it one directly. Width (1 + P)·D.
    """

    def __init__(self, dim: int, num_personas: int):
        super().__init__(dim, num_personas)
        self.width = (1 + num_personas) * dim

    def forward(self, inputs: MatchingInputs) -> torch.Tensor:
        products = [inputs.context * inputs.responses]
        products += [persona * inputs.fusion_responses for persona in inputs.personas]
        return torch.cat(products, dim=-1)
