"""Matching features: what the scorer's MLP reads for each candidate (Eq. 17 and beyond).

Each feature is a small named module that declares its width, so the ranker only adds widths
up. ``model.matching`` lists the features in order; the paper's Eq. 17 is ``[concat]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from personafuse.registry import Registry

__all__ = ["MATCHING", "MatchingFeature", "MatchingInputs"]

MATCHING: Registry[type[MatchingFeature]] = Registry("matching feature")


@dataclass
class MatchingInputs:
    """Everything a matching feature may combine, per candidate.

    Shapes:
        context: (B, C, D) context vector ĉ (broadcast when it is once per context).
        personas: one (B, C, D) persona vector p̂ per fused persona, in config order.
        responses: (B, C, D) response vectors r̄ the scorer sees.
        fusion_responses: (B, C, D) response vectors fusion attended with (IMN: the sentence
            encoder's; else ``responses``).
        utterances: ((B, U, D) utterance vectors ū, (B, U) mask of real ones), or None when
            the backbone does not give them.
    """

    context: torch.Tensor
    personas: list[torch.Tensor]
    responses: torch.Tensor
    fusion_responses: torch.Tensor
    utterances: tuple[torch.Tensor, torch.Tensor] | None = None


class MatchingFeature(nn.Module):
    """Base class: one block of the matching feature.

    Subclasses set :attr:`width` in ``__init__`` and return a (B, C, width) tensor.

    Args:
        dim: Size D of the backbone's vectors.
        num_personas: How many persona vectors are fused (0, 1 or 2).

    Attributes:
        requires: Optional backbone outputs the feature needs (e.g. ``{"utterances"}``);
            checked against the backbone's ``provides`` when the config is composed.
    """

    requires: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, dim: int, num_personas: int):
        super().__init__()
        self.dim = dim
        self.num_personas = num_personas
        self.width = 0

    def forward(self, inputs: MatchingInputs) -> torch.Tensor:
        raise NotImplementedError
