"""Beyond the paper: attend over the context's utterance vectors with r̄, as RA over profiles."""

from __future__ import annotations

import torch

from personafuse.fusion.base import attend_profiles
from personafuse.matching.base import MATCHING, MatchingFeature, MatchingInputs

__all__ = ["UtteranceAttention"]


@MATCHING.register("utterance_attention")
class UtteranceAttention(MatchingFeature):
    """ũ ⊙ r̄_f with ũ = softmax_i(ū_iᵀ r̄_f) ū over the real utterances (Eq. 13–14 applied to
    utterances). Width D.

    Why: ĉ comes out of a second, randomly initialised BiLSTM, so ĉ ⊙ r̄ compares two unrelated
    spaces at initialisation; ū and r̄ come from the same sentence encoder, which gives the
    context the same direct path to the score that p̂ ⊙ r̄ gives the persona.
    """

    requires = frozenset({"utterances"})

    def __init__(self, dim: int, num_personas: int):
        super().__init__(dim, num_personas)
        self.width = dim

    def forward(self, inputs: MatchingInputs) -> torch.Tensor:
        if inputs.utterances is None:
            raise ValueError("the utterance_attention matching feature needs utterance vectors")
        utterances, mask = inputs.utterances
        scores = torch.einsum("bcd,bud->bcu", inputs.fusion_responses, utterances)
        return attend_profiles(scores, utterances, mask) * inputs.fusion_responses
